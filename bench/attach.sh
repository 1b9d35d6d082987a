#!/bin/sh
# attach.sh BUILD - the attachment half of `make bench` (docs/attachments.md):
# portal-1 submits one signed document with one large attachment as
# multipart/related; authority-a fetches the attachment's XML-Enc document.
# Prints upload and download MB/s and the daemon's peak RSS (VmHWM) after
# each size.  The 1 GiB case must keep the daemon under 64 MiB: nothing is
# ever held whole in memory (exit status 1 if it is not).
# Environment: BENCH_ATTACH_SIZES (MiB, default "100 1024").
set -u
BUILD=${1:-build}
SIZES=${BENCH_ATTACH_SIZES:-100 1024}
LIMIT_KB=$((64 * 1024))
cd "$(dirname "$0")/.." || exit 1
for b in gatewayd gwctl; do
	[ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b is missing" >&2; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench-att.XXXXXX") || exit 1
gpid=""
cleanup() {
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
url="https://127.0.0.1:$port"
as() {
	who=$1; shift
	curl -sS --cacert "$dir/dev/ca.pem" --cert "$dir/dev/$who.pem" \
		--key "$dir/dev/$who.key" "$@"
}
"$BUILD/gatewayd" --dev "$dir/dev" --listen "127.0.0.1:$port" >"$dir/gw.log" 2>&1 &
gpid=$!
i=0
until curl -s -o /dev/null --cacert "$dir/dev/ca.pem" "$url/healthz"; do
	i=$((i + 1)); [ $i -gt 600 ] && { echo "bench: gatewayd did not start" >&2; exit 1; }
	sleep 0.1
done
avail=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
rc=0
for mb in $SIZES; do
	if [ "$avail" -lt $((mb * 1024 * 3)) ]; then
		echo "attachment ${mb} MiB: skipped, not enough disk space in $dir"
		continue
	fi
	f="$dir/att-$mb.bin"
	head -c $((mb * 1048576)) /dev/urandom >"$f"
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	"$BUILD/gwctl" sample --to authority-a --id "BENCH-ATT-$mb" >"$dir/u.xml"
	sed -i "s|</Content>|</Content><Attachments><Attachment><Id>att-1</Id><Filename>scan.bin</Filename><ContentType>application/octet-stream</ContentType><Size>$((mb * 1048576))</Size><SHA256>$sha</SHA256></Attachment></Attachments>|" "$dir/u.xml"
	"$BUILD/gwctl" sign --key "$dir/dev/portal-1.key" --cert "$dir/dev/portal-1.pem" \
		"$dir/u.xml" >"$dir/s.xml" || exit 1
	t0=$(date +%s.%N)
	code=$(as portal-1 -o "$dir/r.xml" -w '%{http_code}' -H 'Expect:' \
		-F "submission=@$dir/s.xml;type=application/xml" \
		-F "att-1=@$f;type=application/octet-stream" "$url/v1/submissions")
	t1=$(date +%s.%N)
	[ "$code" = 202 ] || { echo "bench: upload of $mb MiB answered $code" >&2; cat "$dir/r.xml" >&2; exit 1; }
	id=$(sed -n 's|.*<MessageID>\(gw-[0-9a-f]*\)</MessageID>.*|\1|p' "$dir/r.xml" | head -1)
	rm -f "$f"
	bytes=$(as authority-a -o /dev/null -w '%{size_download}' "$url/v1/messages/$id/attachments/att-1")
	t2=$(date +%s.%N)
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$gpid/status")
	awk -v mb="$mb" -v a="$t0" -v b="$t1" -v c="$t2" -v n="$bytes" -v h="$hwm" 'BEGIN {
		printf "attachment %d MiB: upload %.1f MB/s (hash + AES-256-GCM + spool), " \
		    "download %.1f MB/s (%.0f MB of XML-Enc), gatewayd peak RSS %.1f MiB\n",
		    mb, mb * 1.048576 / (b - a), n / 1e6 / (c - b), n / 1e6, h / 1024 }'
	if [ "$mb" -ge 1024 ] && [ "$hwm" -gt "$LIMIT_KB" ]; then
		echo "bench: FAIL: peak RSS $((hwm / 1024)) MiB exceeds 64 MiB with a $mb MiB attachment" >&2
		rc=1
	fi
	rm -f "$dir"/dev/spool/gw-*
done
exit $rc
