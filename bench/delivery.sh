#!/bin/sh
# delivery.sh BUILD - the end-to-end half of `make bench`: portal-1 submits
# ~10 KB RSA-3072-signed documents for authority-b, which is a push
# authority served by BUILD/gwctl authority serve on loopback; measures
# messages per second from submission to verified reception receipt and
# the p50/p99 of that time, from the gateway's own records (received_ms
# and the Reception time stored with the verified receipt).
# Environment: BENCH_SECONDS (20), BENCH_CONCURRENCY (8), BENCH_SIZE (10240).
set -u
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-20}
CONC=${BENCH_CONCURRENCY:-8}
SIZE=${BENCH_SIZE:-10240}
cd "$(dirname "$0")/.." || exit 1
for b in gatewayd gwctl loadgen; do
	[ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b is missing" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "bench: needs sqlite3" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench-dlv.XXXXXX") || exit 1
gpid="" apid=""
cleanup() {
	[ -n "$apid" ] && kill "$apid" 2>/dev/null
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
aport=$((port + 1))

up() {	# waits for a TLS endpoint
	i=0
	while [ $i -lt 600 ]; do
		curl -s -o /dev/null --cacert "$dir/dev/ca.pem" "https://127.0.0.1:$1/healthz" \
			--cert "$dir/dev/gateway.pem" --key "$dir/dev/gateway.key" && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
start_gw() {
	"$BUILD/gatewayd" --dev "$dir/dev" --listen "127.0.0.1:$port" >>"$dir/gw.log" 2>&1 &
	gpid=$!
	up "$port" || { echo "bench: gatewayd did not start" >&2; cat "$dir/gw.log" >&2; exit 1; }
}
start_gw
kill "$gpid"; wait "$gpid" 2>/dev/null
sed -i '/^delivery/d' "$dir/dev/profiles/authority-b.conf"
cat >>"$dir/dev/profiles/authority-b.conf" <<X
delivery = push
endpoint = https://127.0.0.1:$aport/xta
endpoint_ca = ../ca.pem
receipt_cert = ../authority-b.pem
X
start_gw
"$BUILD/gwctl" authority serve --dev "$dir/dev" --as authority-b --out "$dir/inbox" \
	--listen "127.0.0.1:$aport" >"$dir/serve.log" 2>&1 &
apid=$!
mkdir -p "$dir/inbox"
up "$aport" || { echo "bench: authority serve did not start" >&2; exit 1; }

echo "bench: end-to-end delivery to a push authority for $SECS s"
"$BUILD/loadgen" --url "https://127.0.0.1:$port/v1/submissions" \
	--cert "$dir/dev/portal-1.pem" --key "$dir/dev/portal-1.key" \
	--ca "$dir/dev/ca.pem" --concurrency "$CONC" --seconds "$SECS" \
	--size "$SIZE" --to authority-b >"$dir/loadgen.out" 2>"$dir/loadgen.err"
db="$dir/dev/gateway.db"
i=0
while [ $i -lt 1200 ]; do	# until everything accepted is delivered (60 s)
	left=$(sqlite3 "$db" "SELECT count(*) FROM deliveries WHERE state != 'delivered';")
	[ "$left" = 0 ] && break
	sleep 0.05; i=$((i + 1))
done
sqlite3 "$db" "SELECT d.closed_ms - m.received_ms FROM deliveries d JOIN messages m
	ON m.id = d.msg_id WHERE d.state = 'delivered' ORDER BY 1;" >"$dir/lat.txt"
n=$(wc -l <"$dir/lat.txt")
span=$(sqlite3 "$db" "SELECT max(d.closed_ms) - min(m.received_ms) FROM deliveries d
	JOIN messages m ON m.id = d.msg_id WHERE d.state = 'delivered';")
pct() { awk -v p="$1" -v n="$n" 'NR == int((n - 1) * p / 100) + 1 { print; exit }' "$dir/lat.txt"; }
echo
echo "== gatewayd end-to-end delivery =="
echo "delivered      $n (undelivered left: $left)"
if [ "$n" -gt 0 ] && [ "${span:-0}" -gt 0 ]; then
	echo "delivered/s    $(awk -v n="$n" -v s="$span" 'BEGIN { printf "%.1f", n * 1000 / s }')"
	echo "p50 ms         $(pct 50) (submission accepted -> receipt verified)"
	echo "p99 ms         $(pct 99)"
fi
[ "$left" = 0 ]
