#!/bin/bash
# Attachments (docs/attachments.md): a multipart/related submission with a
# text and a binary attachment is accepted; the reader's envelope lists
# them under the gateway's signature; each attachment comes back as a
# standalone XML-Enc document that independent implementations decrypt to
# the exact bytes; parts that differ from the signed list are refused and
# leave nothing in the spool; a client that stops half-way leaves nothing.
. "$(dirname "$0")/lib.sh"
start_gw
SPOOL="$DEV/spool"

# with_atts IN OUT FILE:ID:TYPE...: IN plus an <Attachments> list (unsigned).
with_atts() {
	local in=$1 out=$2; shift 2
	python3 - "$in" "$out" "$@" <<'PY'
import hashlib, os, sys
src, dst, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
items = []
for spec in specs:
    path, ident, ctype = spec.split(':', 2)
    sha = hashlib.sha256(open(path, 'rb').read()).hexdigest() if os.path.exists(path) else spec
    size = os.path.getsize(path)
    if ident.startswith('!'):          # a deliberately wrong digest
        ident, sha = ident[1:], '0' * 64
    items.append('<Attachment><Id>%s</Id><Filename>%s</Filename><ContentType>%s</ContentType>'
                 '<Size>%d</Size><SHA256>%s</SHA256></Attachment>' % (ident, os.path.basename(path), ctype, size, sha))
doc = open(src).read()
i = doc.rindex('</Content>') + len('</Content>')
doc = doc[:i] + '<Attachments>' + ''.join(items) + '</Attachments>' + doc[i:]
open(dst, 'w').write(doc)
PY
}
# signed_with NAME ID FILE:ID:TYPE...: a signed submission listing the files.
signed_with() {
	local name=$1 msgid=$2; shift 2
	"$GWCTL" sample --to authority-a --id "$msgid" >"$T/$name.u.xml" &&
	with_atts "$T/$name.u.xml" "$T/$name.a.xml" "$@" &&
	"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" \
		"$T/$name.a.xml" >"$T/$name.xml"
}
spool_in_empty() { [ -z "$(ls -A "$SPOOL/incoming" 2>/dev/null)" ]; }

head -c 200000 /dev/urandom | base64 >"$T/antrag.txt"
head -c 3000000 /dev/urandom >"$T/scan.bin"
printf '\000\001\377 binary edge bytes \r\n' >>"$T/scan.bin"

signed_with ok ATT-1 "$T/antrag.txt:att-1:text/plain" \
	"$T/scan.bin:att-2:application/octet-stream" || fail "build a signed submission with attachments"
code=$(as portal-1 -o "$T/receipt.xml" -w '%{http_code}' \
	-F "submission=@$T/ok.xml;type=application/xml" \
	-F "att-1=@$T/antrag.txt;type=text/plain" \
	-F "att-2=@$T/scan.bin;type=application/octet-stream" "$URL/v1/submissions")
expect_eq "multipart submission with two attachments answers 202" 202 "$code"
id=$(xpath "$T/receipt.xml" "string(//*[local-name()='MessageID'])")
check "nothing is left in spool/incoming" spool_in_empty
expect_eq "two spool files, one per attachment" 2 "$(ls "$SPOOL" | grep -c "^$id-")"
check "the spool holds ciphertext, not the attachment" \
	not grep -q "binary edge bytes" "$SPOOL/$id-1.bin"

code=$(as authority-a -o "$T/msg.xml" -w '%{http_code}' "$URL/v1/mailbox/$id")
expect_eq "fetch the envelope: 200" 200 "$code"
check "the envelope's signature verifies with xmlsec1" \
	xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/msg.xml"
expect_eq "the envelope lists two attachments" 2 \
	"$(xpath "$T/msg.xml" "count(//*[local-name()='Attachments']/*[local-name()='Attachment'])")"
expect_eq "the listed SHA-256 is the scan's" "$(sha256sum "$T/scan.bin" | cut -d' ' -f1)" \
	"$(xpath "$T/msg.xml" "string(//*[local-name()='Attachment'][@Id='att-2']/@SHA256)")"

for a in att-1 att-2; do
	code=$(as authority-a -o "$T/$a.xml" -D "$T/$a.hdr" -w '%{http_code}' \
		"$URL/v1/messages/$id/attachments/$a")
	expect_eq "fetch $a: 200" 200 "$code"
	expect_eq "$a: Content-Length is the document's size" "$(stat -c %s "$T/$a.xml")" \
		"$(grep -i '^content-length' "$T/$a.hdr" | tr -dc 0-9)"
	cipher=$(xpath "$T/$a.xml" "string(/*/*[local-name()='CipherData']/*[local-name()='CipherValue'])" | base64 -d | sha256sum | cut -d' ' -f1)
	expect_eq "$a: CipherSHA256 in the signed envelope matches the document" \
		"$(xpath "$T/msg.xml" "string(//*[local-name()='Attachment'][@Id='$a']/@CipherSHA256)")" "$cipher"
done
code=$(as authority-b -o /dev/null -w '%{http_code}' "$URL/v1/messages/$id/attachments/att-1")
expect_eq "another authority cannot fetch the attachment" 404 "$code"
code=$(as portal-1 -o /dev/null -w '%{http_code}' "$URL/v1/messages/$id/attachments/att-1")
expect_eq "a portal cannot fetch attachments" 403 "$code"
code=$(as authority-a -o /dev/null -w '%{http_code}' "$URL/v1/messages/$id/attachments/nope")
expect_eq "an unknown attachment id: 404" 404 "$code"
expect_eq "each fetch is audited" 2 "$(audit_count attachment.fetched)"

if [ -d "$ROOT/tests/interop/node_modules/xml-encryption" ] && command -v node >/dev/null; then
	node "$ROOT/tests/interop/decrypt.js" "$DEV/authority-a.key" "$T/att-1.xml" >"$T/att-1.out" ||
		fail "npm xml-encryption decrypts the text attachment"
	check "npm xml-encryption: the text attachment's bytes exactly" cmp -s "$T/antrag.txt" "$T/att-1.out"
else
	skip "npm xml-encryption not installed (make deps installs it)"
fi
SANT="$ROOT/tests/interop/santuario/decrypt.sh"
if [ -x "$SANT" ] && "$SANT" --check >/dev/null 2>&1; then
	"$SANT" "$DEV/authority-a.key" "$DEV/authority-a.pem" "$T/att-2.xml" "$T/att-2.out" ||
		fail "Apache Santuario decrypts the binary attachment"
	check "Santuario: the binary attachment's bytes exactly" cmp -s "$T/scan.bin" "$T/att-2.out"
else
	skip "Apache Santuario not installed (make deps installs it)"
fi

# A part whose digest differs from the signed list: 422, nothing kept.
signed_with bad ATT-2 "$T/antrag.txt:!att-1:text/plain" || fail "sign a wrong list"
before=$(ls "$SPOOL" | grep -c '^gw-')
code=$(as portal-1 -o "$T/bad.out" -w '%{http_code}' \
	-F "submission=@$T/bad.xml;type=application/xml" \
	-F "att-1=@$T/antrag.txt;type=text/plain" "$URL/v1/submissions")
expect_eq "a part with another SHA-256 than signed: 422" 422 "$code"
expect_eq "... with code ATTACHMENT_MISMATCH" ATTACHMENT_MISMATCH \
	"$(xpath "$T/bad.out" "string(//*[local-name()='Code'])")"
check "... and its spooled data removed" spool_in_empty
expect_eq "... and no spool file kept" "$before" "$(ls "$SPOOL" | grep -c '^gw-')"
expect_eq "... audited" 1 "$(audit_count submission.rejected ATTACHMENT_MISMATCH)"

# Listed but not sent, sent but not listed, a plain XML body with a list.
signed_with two ATT-3 "$T/antrag.txt:att-1:text/plain" "$T/scan.bin:att-2:application/pdf"
code=$(as portal-1 -o "$T/two.out" -w '%{http_code}' \
	-F "submission=@$T/two.xml;type=application/xml" \
	-F "att-1=@$T/antrag.txt;type=text/plain" "$URL/v1/submissions")
expect_eq "one part for two listed attachments: 422" 422 "$code"
code=$(post_xml portal-1 "$T/two.xml" "$T/two2.out")
expect_eq "a plain XML body that lists attachments: 422" 422 "$code"
code=$(as portal-1 -o "$T/swap.out" -w '%{http_code}' \
	-F "submission=@$T/two.xml;type=application/xml" \
	-F "att-2=@$T/scan.bin;type=application/pdf" \
	-F "att-1=@$T/antrag.txt;type=text/plain" "$URL/v1/submissions")
expect_eq "parts in another order than the list: 422" 422 "$code"
make_signed "$T/plain.xml" --id ATT-4
code=$(as portal-1 -o "$T/extra.out" -w '%{http_code}' \
	-F "submission=@$T/plain.xml;type=application/xml" \
	-F "att-1=@$T/antrag.txt;type=text/plain" "$URL/v1/submissions")
expect_eq "a part the signed document does not list: 422" 422 "$code"
code=$(as portal-1 -o "$T/bnd.out" -w '%{http_code}' \
	-H 'Content-Type: multipart/related' --data-binary @"$T/plain.xml" "$URL/v1/submissions")
expect_eq "multipart without a boundary: 400" 400 "$code"
check "nothing left in spool/incoming after the refusals" spool_in_empty

# Detached CMS signatures (CAdES-BES) as attachments: "x.p7s" signs "x".
head -c 50000 /dev/urandom >"$T/bescheid.pdf"
openssl cms -sign -binary -cades -md sha256 -in "$T/bescheid.pdf" -signer "$DEV/portal-1.pem" \
	-inkey "$DEV/portal-1.key" -outform DER -out "$T/bescheid.pdf.p7s" || fail "openssl cms -sign"
cms_submit() {	# NAME ID FILES...: signed submission listing FILES, posted; prints the status
	local name=$1 msgid=$2; shift 2
	local args=() f
	for f in "$@"; do args+=(--attach "$f"); done
	"$GWCTL" sample --to authority-a --id "$msgid" "${args[@]}" >"$T/$name.u.xml" &&
	"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/$name.u.xml" >"$T/$name.xml" ||
		{ echo 000; return; }
	args=(-F "s=@$T/$name.xml;type=application/xml")
	local i=1
	for f in "$@"; do args+=(-F "att-$i=@$f"); i=$((i + 1)); done
	as portal-1 -o "$T/$name.out" -w '%{http_code}' "${args[@]}" "$URL/v1/submissions"
}
expect_eq "a PDF with its detached CMS signature: 202" 202 \
	"$(cms_submit cms CMS-1 "$T/bescheid.pdf" "$T/bescheid.pdf.p7s")"
cid=$(xpath "$T/cms.out" "string(//*[local-name()='MessageID'])")
as authority-a -o "$T/cms-env.xml" "$URL/v1/mailbox/$cid"
"$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/cms-out" "$T/cms-env.xml" >/dev/null 2>&1
if [ -d "$ROOT/tests/interop/node_modules/xml-encryption" ] && command -v node >/dev/null; then
	node "$ROOT/tests/interop/decrypt.js" "$DEV/authority-a.key" "$T/cms-env.xml" >"$T/cms-container.xml" ||
		fail "decrypt the container"
	expect_eq "the container's inspection report has the CMS signer over bescheid.pdf" bescheid.pdf \
		"$(xpath "$T/cms-container.xml" "string(//*[local-name()='Signature'][@kind='cms']/@covers)")"
	expect_eq "... with a valid signature" ok \
		"$(xpath "$T/cms-container.xml" "string(//*[local-name()='Signature'][@kind='cms']//*[local-name()='MathResult'])")"
fi
head -c 50000 /dev/urandom >"$T/other.pdf"
openssl cms -sign -binary -md sha256 -in "$T/other.pdf" -signer "$DEV/portal-1.pem" \
	-inkey "$DEV/portal-1.key" -outform DER -out "$T/forged.p7s"
mkdir -p "$T/forged" && cp "$T/bescheid.pdf" "$T/forged/" && cp "$T/forged.p7s" "$T/forged/bescheid.pdf.p7s"
expect_eq "a .p7s that signs other bytes: 422" 422 \
	"$(cms_submit forged CMS-2 "$T/forged/bescheid.pdf" "$T/forged/bescheid.pdf.p7s")"
check "... naming the signature" grep -q "bescheid.pdf.p7s" "$T/forged.out"
mkdir -p "$T/lonely" && cp "$T/forged.p7s" "$T/lonely/antwort.pdf.p7s"
expect_eq "a .p7s without the attachment it signs: 422" 422 \
	"$(cms_submit lonely CMS-3 "$T/lonely/antwort.pdf.p7s")"
expect_eq "... ATTACHMENT_MISMATCH" ATTACHMENT_MISMATCH \
	"$(xpath "$T/lonely.out" "string(//*[local-name()='Code'])")"
check "nothing left in spool/incoming after the CMS checks" spool_in_empty

# Two attachments with the file name a .p7s names: ambiguous, refused.
mkdir -p "$T/dup1" "$T/dup2" && cp "$T/bescheid.pdf" "$T/dup1/" && cp "$T/other.pdf" "$T/dup2/bescheid.pdf"
expect_eq "a .p7s over a file name two attachments have: 422" 422 \
	"$(cms_submit dup CMS-4 "$T/dup1/bescheid.pdf" "$T/dup2/bescheid.pdf" "$T/bescheid.pdf.p7s")"
check "... saying it is ambiguous" grep -q "ambiguous" "$T/dup.out"

# A long multipart Content-Type (start, start-info, type) is fine.
signed_with long ATT-6 "$T/antrag.txt:att-1:text/plain"
{
	printf -- '--bnd-42\r\nContent-Type: application/xml\r\nContent-ID: <submission@portal.example>\r\n\r\n'
	cat "$T/long.xml"
	printf -- '\r\n--bnd-42\r\nContent-Type: text/plain\r\nContent-ID: <att-1>\r\n\r\n'
	cat "$T/antrag.txt"
	printf -- '\r\n--bnd-42--\r\n'
} >"$T/long.body"
code=$(as portal-1 -o "$T/long.out" -w '%{http_code}' --data-binary @"$T/long.body" \
	-H 'Content-Type: multipart/related; type="application/xml"; start="<submission@portal.example>"; start-info="urn:gatewayd:submission:1"; boundary="bnd-42"' \
	"$URL/v1/submissions")
expect_eq "a hand-made multipart/related body with a 160-byte Content-Type: 202" 202 "$code"

# A spool_dir spelled another way (a trailing slash) keeps what was accepted.
stop_gw
echo "spool_dir = spool/" >>"$DEV/gateway.conf"
echo "max_uploads = 2" >>"$DEV/gateway.conf"
start_gw
check "after a restart with spool_dir = spool/, the accepted attachments are still there" \
	test "$(ls "$SPOOL" | grep -c "^$id-")" = 2
code=$(as authority-a -o "$T/again.xml" -w '%{http_code}' "$URL/v1/messages/$id/attachments/att-2")
expect_eq "... and can be fetched" 200 "$code"
check "... unchanged" cmp -s "$T/att-2.xml" "$T/again.xml"

# Parts that are complete let go of their files at once: a client that
# sends 30 small parts and then stalls does not hold 30 descriptors.
PYCLIENT=$(cat <<'PY'
import os, socket, ssl, sys, time
dev, port, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=dev + "/ca.pem")
ctx.load_cert_chain(dev + "/portal-1.pem", dev + "/portal-1.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
def fds():
    return len(os.listdir("/proc/%s/fd" % pid))
before = fds()
body = b"--b\r\nContent-Type: application/xml\r\n\r\n<x/>"
for i in range(30):
    body += b"\r\n--b\r\nContent-ID: <p%d>\r\n\r\n" % i + b"y" * 100
s.sendall(b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/related; boundary=b\r\n"
          b"Content-Length: 10000000\r\n\r\n" + body)
time.sleep(1.5)
during = fds()
files = len(os.listdir(dev + "/spool/incoming"))
print(before, during, files)
s.close()
PY
)
read -r fd_before fd_during parts <<<"$(python3 -c "$PYCLIENT" "$DEV" "$PORT" "$GWPID")"
expect_eq "a stalled upload's 30 complete parts are spooled" 30 "${parts:-0}"
check "... holding no file descriptors for them (before $fd_before, during $fd_during)" \
	test "${fd_during:-999}" -le $(( ${fd_before:-0} + 3 ))
for _ in $(seq 1 50); do spool_in_empty && break; sleep 0.1; done
check "... and once it is gone, nothing is left" spool_in_empty

# max_uploads = 2: a third upload while two are under way gets 429 at
# once, before its body is read; when they are gone, uploads go again.
PYUPLOADS=$(cat <<'PY'
import socket, ssl, sys, time
dev, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=dev + "/ca.pem")
ctx.load_cert_chain(dev + "/portal-1.pem", dev + "/portal-1.key")
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
head = (b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/related; boundary=b\r\n"
        b"Content-Length: 10000000\r\n\r\n--b\r\nContent-Type: application/xml\r\n\r\n<x/>")
held = []
for i in range(2):
    s = conn(); s.sendall(head); held.append(s)
time.sleep(0.5)
third = conn()
third.sendall(head)
third.settimeout(10)
print(third.recv(4096).split(b"\r\n")[0].decode())
for s in held + [third]:
    s.close()
PY
)
status=$(python3 -c "$PYUPLOADS" "$DEV" "$PORT")
expect_eq "a third upload while two are under way (max_uploads = 2): 429 at once" \
	"HTTP/1.1 429 Too Many Requests" "$status"
check "... audited as TOO_MANY_UPLOADS" \
	test "$(audit_count request.rejected TOO_MANY_UPLOADS)" -ge 1
sleep 0.5
code=$(as portal-1 -o "$T/after.out" -w '%{http_code}' \
	-F "submission=@$T/long.xml;type=application/xml" \
	-F "att-1=@$T/antrag.txt;type=text/plain" "$URL/v1/submissions")
expect_eq "once they are gone, an upload is taken again (202: the same submission again)" 202 "$code"

# A client that stops sending half-way leaves nothing behind.
head -c 40000000 /dev/zero >"$T/big.bin"
signed_with big ATT-5 "$T/big.bin:att-1:application/octet-stream"
# curl itself in the background (not through a function's subshell), so
# that kill -9 really cuts the connection
curl -sS --cacert "$DEV/ca.pem" --cert "$DEV/portal-1.pem" --key "$DEV/portal-1.key" \
	-o /dev/null --limit-rate 2M \
	-F "submission=@$T/big.xml;type=application/xml" \
	-F "att-1=@$T/big.bin;type=application/octet-stream" "$URL/v1/submissions" &
cpid=$!
for _ in $(seq 1 50); do
	[ -n "$(ls -A "$SPOOL/incoming" 2>/dev/null)" ] && break
	sleep 0.1
done
check "while it uploads, the part is being spooled" not spool_in_empty
kill -9 "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
echo "(the upload was cut off on purpose)"
for _ in $(seq 1 50); do spool_in_empty && break; sleep 0.1; done
check "after the client went away, spool/incoming is empty" spool_in_empty
expect_eq "and nothing was accepted" 0 \
	"$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM messages WHERE portal_msg_id='ATT-5';")"

check "the audit log verifies" "$GWCTL" audit verify --dev "$DEV"
finish
