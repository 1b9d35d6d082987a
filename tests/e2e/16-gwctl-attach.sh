#!/bin/bash
# gwctl and attachments (docs/attachments.md), the client's side:
#  - sample --attach and sign --attach list each file (Id, name, type,
#    size, SHA-256) in the signed submission; sign refuses a second list;
#  - submit --attach refuses files that differ from the signed list before
#    sending anything, and otherwise streams a multipart/related upload;
#  - mailbox fetch stores the attachment documents next to the envelope,
#    decrypt turns them back into the exact files, and refuses (writing
#    nothing) a damaged or swapped document;
#  - authority serve takes a multipart push, stores the attachments with
#    the message, and refuses parts that differ from the envelope's list;
#  - all of it in constant memory (a 64 MiB attachment, gwctl's peak RSS).
. "$(dirname "$0")/lib.sh"
command -v xmlsec1 >/dev/null || { skip "xmlsec1 CLI not installed"; exit 0; }
command -v xmllint >/dev/null || { skip "xmllint not installed"; exit 0; }

ASPID=""
APORT=$((31000 + ($$ * 11) % 9000))
AURL=""
trap 'kill_as; finish' EXIT
kill_as() { [ -z "$ASPID" ] || { kill -9 "$ASPID" 2>/dev/null; wait "$ASPID" 2>/dev/null; ASPID=""; }; }

# xp FILE EXPR: an XPath value, namespaces ignored (local-name()).
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }
att() { xp "$1" "string(//*[local-name()='Attachment'][$2]/*[local-name()='$3'])"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
verify_sig() { xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$1" >/dev/null 2>&1; }

cd "$T" || exit 1
prepare_dev
[ -f "$DEV/portal-1.key" ] || "$GWCTL" pki init "$DEV" >/dev/null 2>&1
head -c 3000000 /dev/urandom >"$T/scan.pdf"
printf 'Bitte beachten Sie die Anlage.\n' >"$T/notiz.txt"
: >"$T/leer.bin"
head -c 5000 /dev/urandom >"$T/foto.JPG"
SIGN=(--key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem")

# ---- offline: the lists ----
"$GWCTL" sample --to authority-a --attach "$T/scan.pdf" --attach "$T/notiz.txt;type=text/markdown" \
	--attach "$T/leer.bin" --attach "$T/foto.JPG" >"$T/s.xml"
expect_eq "sample --attach: exit 0" 0 $?
expect_eq "four entries" 4 "$(xp "$T/s.xml" "count(//*[local-name()='Attachment'])")"
expect_eq "Ids in order" "att-1 att-2 att-3 att-4" \
	"$(att "$T/s.xml" 1 Id) $(att "$T/s.xml" 2 Id) $(att "$T/s.xml" 3 Id) $(att "$T/s.xml" 4 Id)"
expect_eq "Filename is the basename" "scan.pdf" "$(att "$T/s.xml" 1 Filename)"
expect_eq "Size" "$(size "$T/scan.pdf")" "$(att "$T/s.xml" 1 Size)"
expect_eq "SHA256 of the file" "$(sha "$T/scan.pdf")" "$(att "$T/s.xml" 1 SHA256)"
expect_eq "type guessed from .pdf" "application/pdf" "$(att "$T/s.xml" 1 ContentType)"
expect_eq "FILE;type=... wins" "text/markdown" "$(att "$T/s.xml" 2 ContentType)"
expect_eq "an empty file: size 0" "0" "$(att "$T/s.xml" 3 Size)"
expect_eq "unknown extension: octet-stream" "application/octet-stream" "$(att "$T/s.xml" 3 ContentType)"
expect_eq ".JPG (any case): image/jpeg" "image/jpeg" "$(att "$T/s.xml" 4 ContentType)"
expect_eq "the list follows Content" "Attachments" \
	"$(xp "$T/s.xml" "local-name(//*[local-name()='Content']/following-sibling::*[1])")"
"$GWCTL" sign "${SIGN[@]}" "$T/s.xml" >"$T/signed.xml"
expect_eq "the listed sample signs" 0 $?
check "the signature (covering the list) verifies" verify_sig "$T/signed.xml"

"$GWCTL" sample --to authority-a >"$T/plain.xml"
"$GWCTL" sign "${SIGN[@]}" --attach "$T/scan.pdf" --attach "$T/notiz.txt" "$T/plain.xml" >"$T/signed2.xml"
expect_eq "sign --attach: exit 0" 0 $?
expect_eq "sign --attach: after Content, before the signature" "Content Attachments Signature" \
	"$(xp "$T/signed2.xml" "local-name(/*/*[2])") $(xp "$T/signed2.xml" "local-name(/*/*[3])") $(xp "$T/signed2.xml" "local-name(/*/*[4])")"
expect_eq "sign --attach: digests" "$(sha "$T/notiz.txt")" "$(att "$T/signed2.xml" 2 SHA256)"
check "sign --attach: the signature verifies" verify_sig "$T/signed2.xml"
"$GWCTL" sign "${SIGN[@]}" --attach "$T/scan.pdf" "$T/s.xml" >/dev/null 2>"$T/err"
expect_eq "sign --attach on a listed document: refused" 1 $?
check "... saying why" grep -q "already lists attachments" "$T/err"
"$GWCTL" sample --to authority-a --attach "$T/nope.pdf" >/dev/null 2>&1
expect_eq "a missing file: refused" 1 $?
"$GWCTL" sample --to authority-a --attach "$T/scan.pdf;type=text/plain; charset=utf-8" >/dev/null 2>&1
expect_eq "a type with parameters: refused" 1 $?

# ---- offline: submit checks the files before sending anything ----
NOGW=(--gateway https://127.0.0.1:1 --dev "$DEV")	# nothing listens there
cp "$T/scan.pdf" "$T/other.pdf" && printf x >>"$T/other.pdf"
"$GWCTL" submit "${NOGW[@]}" "$T/signed.xml" --attach "$T/other.pdf" --attach "$T/notiz.txt" \
	--attach "$T/leer.bin" --attach "$T/foto.JPG" 2>"$T/err"
expect_eq "submit: a file that differs from the list: refused" 1 $?
check "... before connecting (nothing was sent)" grep -q "nothing was sent" "$T/err"
"$GWCTL" submit "${NOGW[@]}" "$T/signed.xml" --attach "$T/scan.pdf" 2>/dev/null
expect_eq "submit: files missing: refused" 1 $?
"$GWCTL" submit "${NOGW[@]}" "$T/signed.xml" 2>"$T/err"
expect_eq "submit: a listed document without --attach: usage error" 2 $?
"$GWCTL" submit "${NOGW[@]}" "$T/plain.xml" --attach "$T/scan.pdf" 2>/dev/null
expect_eq "submit: --attach for a document without a list: usage error" 2 $?

# ---- with the gateway: submit, fetch, decrypt ----
start_gw
# a limit of its own for this authority (the default is max_submission)
stop_gw
sed -i 's/^max_size = .*/max_size = 200M/' "$DEV/profiles/authority-a.conf"
start_gw
export GWCTL_DEV="$DEV"
GWO=(--gateway "$URL")

# the files in another order than listed: matched by content
"$GWCTL" submit "${GWO[@]}" "$T/signed.xml" --attach "$T/foto.JPG" --attach "$T/leer.bin" \
	--attach "$T/scan.pdf" --attach "$T/notiz.txt" >"$T/receipt.xml" 2>"$T/err"
expect_eq "submit --attach: accepted" 0 $?
ID=$(xp "$T/receipt.xml" "string(//*[local-name()='MessageID'])")
check "... with a MessageID" test -n "$ID"

"$GWCTL" mailbox fetch "${GWO[@]}" --as authority-a "$ID" --dir "$T/f" 2>/dev/null
expect_eq "mailbox fetch --dir: exit 0" 0 $?
check "envelope and four attachment documents" test -s "$T/f/envelope.xml" -a -s "$T/f/att-1.xml" \
	-a -s "$T/f/att-2.xml" -a -s "$T/f/att-3.xml" -a -s "$T/f/att-4.xml"
check "no temporary files left" test -z "$(ls -A "$T/f" | grep '^\.')"
mkdir -p "$T/f2"
"$GWCTL" mailbox fetch "${GWO[@]}" --as authority-a "$ID" -o "$T/f2/msg.xml" 2>/dev/null
check "mailbox fetch -o FILE: the documents next to FILE" test -s "$T/f2/att-1.xml"
"$GWCTL" mailbox fetch "${GWO[@]}" --as authority-a "$ID" >"$T/stdout.xml" 2>"$T/err"
check "mailbox fetch to stdout: says the attachments were not fetched" grep -q "not fetched" "$T/err"

"$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/o" "$T/f" >"$T/list.txt"
expect_eq "decrypt DIR: exit 0" 0 $?
for f in scan.pdf notiz.txt leer.bin foto.JPG; do
	check "decrypt: $f identical" cmp -s "$T/$f" "$T/o/$f"
done
check "decrypt: the submission byte for byte" cmp -s "$T/signed.xml" "$T/o/submission.xml"
check "decrypt: no temporary files left" test -z "$(ls -A "$T/o" | grep '^\.')"
"$GWCTL" decrypt --key "$DEV/authority-a.key" --cert "$DEV/authority-a.pem" --out "$T/o2" \
	"$T/f2/msg.xml" "$T/f/att-4.xml" "$T/f/att-2.xml" "$T/f/att-1.xml" "$T/f/att-3.xml" >/dev/null
expect_eq "decrypt FILE ATT.xml... (any order): exit 0" 0 $?
check "... the files" cmp -s "$T/scan.pdf" "$T/o2/scan.pdf"
"$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/f/envelope.xml" >"$T/sub.xml" 2>"$T/err"
check "decrypt without --out: the submission on stdout" cmp -s "$T/signed.xml" "$T/sub.xml"
check "... and a note about the attachments" grep -q "not written" "$T/err"

# damaged: one base64 character of att-1's CipherValue changed
mkdir -p "$T/bad" && cp "$T/f"/* "$T/bad/"
python3 - "$T/bad/att-1.xml" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
i = d.index(b'<xenc:CipherValue>') + 5000
open(sys.argv[1], 'wb').write(d[:i] + (b'A' if d[i:i+1] != b'A' else b'B') + d[i+1:])
PY
"$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/ob" "$T/bad" >/dev/null 2>"$T/err"
expect_eq "decrypt: a damaged attachment document is refused" 1 $?
check "... and nothing is written" test -z "$(ls -A "$T/ob" 2>/dev/null)"
cp "$T/f/att-1.xml" "$T/bad/att-1.xml"
cp "$T/f/att-3.xml" "$T/bad/att-2.xml"
"$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/ob" "$T/bad" >/dev/null 2>"$T/err"
expect_eq "decrypt: another attachment's document in its place is refused" 1 $?
check "... naming it" grep -q 'holds attachment "att-3"' "$T/err"
check "... and nothing is written" test -z "$(ls -A "$T/ob" 2>/dev/null)"
"$GWCTL" decrypt --key "$DEV/authority-b.key" --out "$T/ob" "$T/f" >/dev/null 2>&1
expect_eq "decrypt with another authority's key: refused" 1 $?

# ---- authority serve: a multipart push ----
# body OUT ENVELOPE [ID=FILE...]: multipart/related as the gateway pushes it.
body() {
	local out=$1 env=$2 p; shift 2
	{ printf -- '--b1\r\nContent-Type: application/soap+xml\r\nContent-ID: <envelope>\r\n\r\n'; cat "$env"
	  for p in "$@"; do
		printf -- '\r\n--b1\r\nContent-Type: application/xml\r\nContent-ID: <%s>\r\n\r\n' "${p%%=*}"
		cat "${p#*=}"
	  done
	  printf -- '\r\n--b1--\r\n'; } >"$out"
}
gwcurl() { curl -sS --max-time 60 --cacert "$DEV/ca.pem" --cert "$DEV/gateway.pem" --key "$DEV/gateway.key" "$@"; }
push() {
	gwcurl -o "$2" -w '%{http_code}' -H 'Content-Type: multipart/related; boundary=b1; type="application/soap+xml"; start="<envelope>"' \
		--data-binary @"$1" "$AURL/deliver"
}
start_as() {
	local out=$1 p; shift
	for _ in 1 2 3 4 5; do
		p=$APORT; APORT=$((APORT + 1))
		"$GWCTL" authority serve --dev "$DEV" --as authority-a --out "$out" \
			--listen "127.0.0.1:$p" "$@" 2>>"$T/as.log" &
		ASPID=$!
		for _ in $(seq 1 100); do
			if gwcurl -o /dev/null "https://127.0.0.1:$p/healthz" 2>/dev/null; then
				AURL="https://127.0.0.1:$p"; return 0
			fi
			kill -0 "$ASPID" 2>/dev/null || break
			sleep 0.1
		done
		kill_as
	done
	echo "FAIL: gwctl authority serve did not start"; tail -n 20 "$T/as.log"; exit 1
}
OUT="$T/inbox"
start_as "$OUT"
E="$T/f/envelope.xml"
body "$T/wrong-order.bin" "$E" att-2="$T/f/att-2.xml" att-1="$T/f/att-1.xml" att-3="$T/f/att-3.xml" att-4="$T/f/att-4.xml"
expect_eq "push: parts in another order than listed: 422" 422 "$(push "$T/wrong-order.bin" "$T/r.xml")"
check "... ATTACHMENT_MISMATCH" grep -q ATTACHMENT_MISMATCH "$T/r.xml"
body "$T/short.bin" "$E" att-1="$T/f/att-1.xml" att-2="$T/f/att-2.xml" att-3="$T/f/att-3.xml"
expect_eq "push: a part missing: 422" 422 "$(push "$T/short.bin" "$T/r.xml")"
body "$T/swapped.bin" "$E" att-1="$T/f/att-1.xml" att-2="$T/f/att-3.xml" att-3="$T/f/att-3.xml" att-4="$T/f/att-4.xml"
expect_eq "push: another attachment's document under its Id: 422" 422 "$(push "$T/swapped.bin" "$T/r.xml")"
body "$T/damaged.bin" "$E" att-1="$T/bad/att-2.xml" att-2="$T/f/att-2.xml" att-3="$T/f/att-3.xml" att-4="$T/f/att-4.xml"
expect_eq "push: a wrong document: 422" 422 "$(push "$T/damaged.bin" "$T/r.xml")"
check "refused pushes leave nothing (no message, no spool file)" \
	test -z "$(cd "$OUT" && find . -mindepth 1 ! -name .spool)"
body "$T/good.bin" "$E" att-1="$T/f/att-1.xml" att-2="$T/f/att-2.xml" att-3="$T/f/att-3.xml" att-4="$T/f/att-4.xml"
expect_eq "push with attachments: 200" 200 "$(push "$T/good.bin" "$T/rc1.xml")"
check "... a receipt that verifies" verify_sig "$T/rc1.xml"
for f in scan.pdf notiz.txt leer.bin foto.JPG; do
	check "push: attachments/$f identical" cmp -s "$T/$f" "$OUT/$ID/attachments/$f"
done
check "push: the submission stored" cmp -s "$T/signed.xml" "$OUT/$ID/submission.xml"
check "push: nothing left in the spool" test -z "$(ls -A "$OUT/.spool")"
expect_eq "push again: 200" 200 "$(push "$T/good.bin" "$T/rc2.xml")"
check "... the same receipt" cmp -s "$T/rc1.xml" "$T/rc2.xml"
kill -TERM "$ASPID"; wait "$ASPID"; rc=$?; ASPID=""
expect_eq "authority serve stops cleanly" 0 "$rc"

# ---- constant memory: a 64 MiB attachment through submit, fetch, decrypt ----
# (ASan keeps freed memory in a quarantine; keep it small to see gwctl's own)
head -c $((64 << 20)) /dev/urandom >"$T/big.bin"
"$GWCTL" sample --to authority-a --attach "$T/big.bin" | "$GWCTL" sign "${SIGN[@]}" - >"$T/big.xml"
rss() { local f=$1; shift; ASAN_OPTIONS=quarantine_size_mb=1:detect_leaks=1 /usr/bin/time -f %M -o "$f" "$@"; }
LIMIT=57344	# KiB: far below the 64 MiB the file would take in memory
rss "$T/m1" "$GWCTL" submit "${GWO[@]}" --quiet "$T/big.xml" --attach "$T/big.bin" >"$T/bigr.xml"
expect_eq "submit of 64 MiB: accepted" 0 $?
check "... peak RSS $(cat "$T/m1") KiB < $LIMIT KiB" test "$(cat "$T/m1")" -lt $LIMIT
BID=$(xp "$T/bigr.xml" "string(//*[local-name()='MessageID'])")
rss "$T/m2" "$GWCTL" mailbox fetch "${GWO[@]}" --as authority-a --quiet "$BID" --dir "$T/fb" 2>/dev/null
expect_eq "fetch of 64 MiB: exit 0" 0 $?
check "... peak RSS $(cat "$T/m2") KiB < $LIMIT KiB" test "$(cat "$T/m2")" -lt $LIMIT
rss "$T/m3" "$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/ob2" "$T/fb" >/dev/null
expect_eq "decrypt of 64 MiB: exit 0" 0 $?
check "... peak RSS $(cat "$T/m3") KiB < $LIMIT KiB" test "$(cat "$T/m3")" -lt $LIMIT
check "... the file byte for byte" cmp -s "$T/big.bin" "$T/ob2/big.bin"
