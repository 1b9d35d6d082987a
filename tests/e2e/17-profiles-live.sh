#!/bin/bash
# Profiles at work in the daemon (profiles/README.md, docs/attachments.md):
# key rollover (two encryption certificates: one EncryptedKey each, both
# decrypt, with an independent implementation too, RSA-3072 and RSA-4096),
# per-portal trust (signer_ca, signer_eku, allow_rsa2048, revocation),
# per-portal and per-authority size limits (413 at once from
# Content-Length, while streaming for chunked bodies), and push delivery
# of a message with attachments to gwctl authority serve.
. "$(dirname "$0")/lib.sh"
start_gw
stop_gw

# cert NAME BITS USAGE [CA]: a key and a certificate issued by the dev CA
# (or CA, a prefix of CA.pem/CA.key), valid for 400 days.
cert() {
	local name=$1 bits=$2 usage=$3 ca=${4:-$DEV/ca}
	openssl req -new -newkey "rsa:$bits" -nodes -keyout "$DEV/$name.key" \
		-subj "/CN=$name" -out "$T/$name.csr" 2>/dev/null &&
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\n' "$usage" >"$T/$name.ext" &&
	openssl x509 -req -in "$T/$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
		-CAcreateserial -days 400 -sha256 -extfile "$T/$name.ext" \
		-out "$DEV/$name.pem" 2>/dev/null
}
cert a-enc2 4096 keyEncipherment || fail "make a second encryption certificate"
cert signer2048 2048 digitalSignature || fail "make an RSA-2048 signer"
openssl req -x509 -newkey rsa:3072 -nodes -keyout "$DEV/otherca.key" -subj "/CN=Other CA" \
	-days 400 -out "$DEV/otherca.pem" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || fail "make another CA"

# authority-a rolls over: its old (RSA-3072) and new (RSA-4096) certificate
sed -i 's|^encryption_cert = .*|encryption_cert = ../authority-a.pem, ../a-enc2.pem|' \
	"$DEV/profiles/authority-a.conf"
# authority-b takes at most 1 MiB
sed -i 's|^max_size = .*|max_size = 1M|' "$DEV/profiles/authority-b.conf"
# portal-1 may send at most 8 MiB and accepts RSA-2048 signers (a warning)
cat >>"$DEV/profiles/portal-1.conf" <<X
max_size = 8M
allow_rsa2048 = yes
X
start_gw

# ---- rollover ----
make_signed "$T/r.xml" --id ROLL-1 || fail "sign"
expect_eq "submission to a rolling-over authority: 202" 202 "$(post_xml portal-1 "$T/r.xml" "$T/r.out")"
id=$(xpath "$T/r.out" "string(//*[local-name()='MessageID'])")
as authority-a -o "$T/env.xml" "$URL/v1/mailbox/$id"
expect_eq "the envelope carries one EncryptedKey per valid certificate" 2 \
	"$(xpath "$T/env.xml" "count(//*[local-name()='EncryptedKey'])")"
expect_eq "message.encrypted names both certificates" 2 \
	"$(sqlite3 "$DEV/gateway.db" "SELECT detail FROM audit WHERE event='message.encrypted' AND msg_id='$id';" | grep -o 'sha256:' | wc -l)"
"$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/env.xml" >"$T/d1.xml" 2>/dev/null
check "the old key decrypts (gwctl)" cmp -s "$T/r.xml" "$T/d1.xml"
"$GWCTL" decrypt --key "$DEV/a-enc2.key" --cert "$DEV/a-enc2.pem" "$T/env.xml" >"$T/d2.xml" 2>/dev/null
check "the new RSA-4096 key decrypts (gwctl)" cmp -s "$T/r.xml" "$T/d2.xml"
SANT="$ROOT/tests/interop/santuario/decrypt.sh"
if [ -x "$SANT" ] && "$SANT" --check >/dev/null 2>&1; then
	for k in authority-a a-enc2; do
		"$SANT" "$DEV/$k.key" "$DEV/$k.pem" "$T/env.xml" "$T/s-$k.xml" ||
			fail "Santuario decrypts with $k"
		xpath "$T/s-$k.xml" "string(//*[local-name()='Message'])" | base64 -d >"$T/s-$k.sub"
		check "Santuario, key $k: the submitted bytes exactly" cmp -s "$T/r.xml" "$T/s-$k.sub"
	done
else
	skip "Apache Santuario not installed (make deps installs it)"
fi

# with an attachment: its document also has both EncryptedKeys
head -c 300000 /dev/urandom >"$T/scan.bin"
"$GWCTL" sample --to authority-a --id ROLL-2 --attach "$T/scan.bin" >"$T/ra.u.xml" &&
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/ra.u.xml" >"$T/ra.xml" ||
	fail "sign with an attachment"
code=$(as portal-1 -o "$T/ra.out" -w '%{http_code}' -F "s=@$T/ra.xml;type=application/xml" \
	-F "att-1=@$T/scan.bin;type=application/octet-stream" "$URL/v1/submissions")
expect_eq "attachment to the rolling-over authority: 202" 202 "$code"
id2=$(xpath "$T/ra.out" "string(//*[local-name()='MessageID'])")
as authority-a -o "$T/att.xml" "$URL/v1/messages/$id2/attachments/att-1"
expect_eq "the attachment document carries both EncryptedKeys" 2 \
	"$(xpath "$T/att.xml" "count(//*[local-name()='EncryptedKey'])")"
if [ -x "$SANT" ] && "$SANT" --check >/dev/null 2>&1; then
	for k in authority-a a-enc2; do
		"$SANT" "$DEV/$k.key" "$DEV/$k.pem" "$T/att.xml" "$T/att-$k.bin" ||
			fail "Santuario decrypts the attachment with $k"
		check "Santuario, key $k: the attachment's bytes exactly" cmp -s "$T/scan.bin" "$T/att-$k.bin"
	done
fi

# ---- several readers: one envelope each, encrypted for that reader only ----
make_signed "$T/two.xml" --id TWO-1 --to authority-b || fail "sign for two readers"
expect_eq "a submission to two authorities: 202" 202 "$(post_xml portal-1 "$T/two.xml" "$T/two.out")"
tid=$(xpath "$T/two.out" "string(//*[local-name()='MessageID'])")
as authority-a -o "$T/two-a.xml" "$URL/v1/mailbox/$tid"
as authority-b -o "$T/two-b.xml" "$URL/v1/mailbox/$tid"
"$GWCTL" decrypt --key "$DEV/authority-b.key" "$T/two-b.xml" >"$T/two-b.dec" 2>/dev/null
check "authority-b's envelope decrypts with its key to the submitted bytes" cmp -s "$T/two.xml" "$T/two-b.dec"
check "authority-b's envelope does not decrypt with authority-a's key" \
	not "$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/two-b.xml" >/dev/null 2>&1
check "authority-a's envelope does not decrypt with authority-b's key" \
	not "$GWCTL" decrypt --key "$DEV/authority-b.key" "$T/two-a.xml" >/dev/null 2>&1
as authority-b -X POST -o /dev/null "$URL/v1/mailbox/$tid/close"
as portal-1 -o "$T/two-card.xml" "$URL/v1/submissions/$tid"
expect_eq "the process card lists both readers" 2 \
	"$(xpath "$T/two-card.xml" "count(//*[local-name()='Reader'])")"
expect_eq "... each with its own state" "delivered waiting" \
	"$(xpath "$T/two-card.xml" "string(//*[local-name()='Reader'][@id='authority-b']/@state)") $(xpath "$T/two-card.xml" "string(//*[local-name()='Reader'][@id='authority-a']/@state)")"

# ---- per-portal trust ----
"$GWCTL" sample --to authority-a --id W-1 >"$T/w.u.xml"
"$GWCTL" sign --key "$DEV/signer2048.key" --cert "$DEV/signer2048.pem" "$T/w.u.xml" >"$T/w.xml"
expect_eq "an RSA-2048 signer where the portal allows it: 202" 202 "$(post_xml portal-1 "$T/w.xml" "$T/w.out")"
wid=$(xpath "$T/w.out" "string(//*[local-name()='MessageID'])")
as portal-1 -o "$T/wcard.xml" "$URL/v1/submissions/$wid"
expect_eq "... and the process card is yellow" yellow \
	"$(xpath "$T/wcard.xml" "normalize-space(//*[local-name()='Status'])")"
check "... with the warning KEY_RSA_2048" \
	test "$(xpath "$T/wcard.xml" "count(//*[local-name()='Warning'][@code='KEY_RSA_2048'])")" -ge 1

stop_gw
sed -i '/^allow_rsa2048/d' "$DEV/profiles/portal-1.conf"
start_gw
"$GWCTL" sample --to authority-a --id W-2 >"$T/w2.u.xml"
"$GWCTL" sign --key "$DEV/signer2048.key" --cert "$DEV/signer2048.pem" "$T/w2.u.xml" >"$T/w2.xml"
code=$(post_xml portal-1 "$T/w2.xml" "$T/w2.out")
expect_eq "an RSA-2048 signer by default: 422" 422 "$code"
expect_eq "... KEY_TOO_WEAK" KEY_TOO_WEAK "$(xpath "$T/w2.out" "string(//*[local-name()='Code'])")"

# refused_with "KEY = VALUE" ID CODE DESCRIPTION: with that line in
# portal-1's profile, portal-1's signed sample is refused with 422 CODE;
# the line goes again afterwards.
refused_with() {
	local line=$1 mid=$2 want=$3 desc=$4
	stop_gw
	echo "$line" >>"$DEV/profiles/portal-1.conf"
	start_gw
	make_signed "$T/$mid.xml" --id "$mid"
	expect_eq "$desc: 422" 422 "$(post_xml portal-1 "$T/$mid.xml" "$T/$mid.out")"
	expect_eq "... $want" "$want" "$(xpath "$T/$mid.out" "string(//*[local-name()='Code'])")"
	stop_gw
	sed -i "/^${line%% *} /d" "$DEV/profiles/portal-1.conf"
	start_gw
}
refused_with "signer_ca = ../otherca.pem" CA-1 CERT_UNTRUSTED \
	"a signer outside the portal's signer_ca"
refused_with "signer_eku = codeSigning" EKU-1 CERT_USAGE \
	"a signer without the portal's signer_eku"
refused_with "revocation = require" REV-1 CERT_INDETERMINATE \
	"the portal's revocation = require without an answer"

# ---- size limits ----
head -c 9000000 /dev/urandom >"$T/nine.bin"
"$GWCTL" sample --to authority-a --id BIG-1 --attach "$T/nine.bin" >"$T/b.u.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/b.u.xml" >"$T/b.xml"
code=$(as portal-1 -o "$T/b.out" -w '%{http_code} %{size_upload}' \
	-F "s=@$T/b.xml;type=application/xml" -F "att-1=@$T/nine.bin" "$URL/v1/submissions")
expect_eq "over the portal's max_size: 413" 413 "${code% *}"
check "... refused from the Content-Length, before the body was sent" test "${code#* }" -lt 1000000
code=$(as portal-1 -o "$T/b2.out" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	-F "s=@$T/b.xml;type=application/xml" -F "att-1=@$T/nine.bin" "$URL/v1/submissions")
expect_eq "chunked, growing past the portal's max_size: 413" 413 "$code"
head -c 3000000 /dev/urandom >"$T/two.bin"
"$GWCTL" sample --to authority-b --id BIG-2 --attach "$T/two.bin" >"$T/c.u.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/c.u.xml" >"$T/c.xml"
code=$(as portal-1 -o "$T/c.out" -w '%{http_code}' \
	-F "s=@$T/c.xml;type=application/xml" -F "att-1=@$T/two.bin" "$URL/v1/submissions")
expect_eq "over the reader's max_size: 413" 413 "$code"
check "... naming the reader's limit" grep -q "authority-b accepts at most" "$T/c.out"
check "... refused by the HTTP layer as soon as the XML part named the reader" \
	test "$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='request.rejected' AND code='TOO_LARGE' AND detail LIKE '%authority-b accepts at most%';")" -ge 1
code=$(as portal-1 -o "$T/c2.out" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	-F "s=@$T/c.xml;type=application/xml" -F "att-1=@$T/two.bin" "$URL/v1/submissions")
expect_eq "chunked, over the reader's max_size: 413 while it streams" 413 "$code"
check "nothing left in the spool's incoming directory" test -z "$(ls -A "$DEV/spool/incoming")"

# ---- an encryption certificate that expires while the gateway runs ----
# (openssl ca, for an end date seconds ahead)
stop_gw
mkdir -p "$T/ca/new"
touch "$T/ca/index.txt"
echo 2000 >"$T/ca/serial"
cat >"$T/ca/ca.cnf" <<X
[ ca ]
default_ca = CA_default
[ CA_default ]
database = $T/ca/index.txt
new_certs_dir = $T/ca/new
serial = $T/ca/serial
default_md = sha256
policy = any
[ any ]
commonName = supplied
[ enc ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
X
openssl req -new -newkey rsa:3072 -nodes -keyout "$DEV/short.key" -subj "/CN=short-lived" \
	-out "$T/short.csr" 2>/dev/null
end=$(date -u -d '+25 seconds' +%Y%m%d%H%M%SZ)
openssl ca -config "$T/ca/ca.cnf" -batch -notext -in "$T/short.csr" -out "$DEV/short.pem" \
	-keyfile "$DEV/ca.key" -cert "$DEV/ca.pem" -enddate "$end" -extensions enc >/dev/null 2>&1 ||
	fail "issue a certificate that expires in 25 seconds"
sed -i 's|^encryption_cert = .*|encryption_cert = ../short.pem|' "$DEV/profiles/authority-a.conf"
start_gw
make_signed "$T/x1.xml" --id EXP-1
expect_eq "while the only encryption certificate is valid: 202" 202 "$(post_xml portal-1 "$T/x1.xml" "$T/x1.out")"
for _ in $(seq 1 60); do
	openssl x509 -in "$DEV/short.pem" -noout -checkend 0 >/dev/null 2>&1 || break
	sleep 0.5
done
sleep 1
make_signed "$T/x2.xml" --id EXP-2
expect_eq "after it expired: refused at once (422)" 422 "$(post_xml portal-1 "$T/x2.xml" "$T/x2.out")"
expect_eq "... NO_ENCRYPTION_CERT" NO_ENCRYPTION_CERT "$(xpath "$T/x2.out" "string(//*[local-name()='Code'])")"
expect_eq "... and nothing was accepted" 0 \
	"$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM messages WHERE portal_msg_id='EXP-2';")"
sed -i 's|^encryption_cert = .*|encryption_cert = ../authority-a.pem|' "$DEV/profiles/authority-a.conf"

# ---- push delivery with an attachment ----
stop_gw
APORT=$((PORT + 7))
sed -i 's|^max_size = .*|max_size = 2G|; /^delivery/d' "$DEV/profiles/authority-b.conf"
cat >>"$DEV/profiles/authority-b.conf" <<X
delivery = push
endpoint = https://127.0.0.1:$APORT/xta
endpoint_ca = ../ca.pem
receipt_cert = ../authority-b.pem
retry_base = 100
retry_max = 1000
X
start_gw
mkdir -p "$T/inbox"
"$GWCTL" authority serve --dev "$DEV" --as authority-b --out "$T/inbox" \
	--listen "127.0.0.1:$APORT" >>"$T/serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; finish' EXIT
code=$(as portal-1 -o "$T/p.out" -w '%{http_code}' \
	-F "s=@$T/c.xml;type=application/xml" -F "att-1=@$T/two.bin" "$URL/v1/submissions")
expect_eq "a message with an attachment for a push authority: 202" 202 "$code"
pid=$(xpath "$T/p.out" "string(//*[local-name()='MessageID'])")
for _ in $(seq 1 100); do
	as portal-1 -o "$T/pcard.xml" "$URL/v1/submissions/$pid"
	[ "$(xpath "$T/pcard.xml" "string(//*[local-name()='Reader']/@state)")" = delivered ] && break
	sleep 0.2
done
expect_eq "pushed as multipart/related and delivered with a verified receipt" delivered \
	"$(xpath "$T/pcard.xml" "string(//*[local-name()='Reader']/@state)")"
got=$(find "$T/inbox/$pid" -type f -name 'two.bin' 2>/dev/null | head -1)
check "the authority has the attachment's bytes exactly" cmp -s "$T/two.bin" "${got:-/nonexistent}"
check "and the submission's bytes exactly" cmp -s "$T/c.xml" "$T/inbox/$pid/submission.xml"

# The endpoint's key pinned instead of its CA: delivered; a wrong pin: not.
pin="sha256//$(openssl x509 -in "$DEV/authority-b.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
stop_gw
sed -i "s|^endpoint_ca = .*|endpoint_pin = $pin|" "$DEV/profiles/authority-b.conf"
start_gw
"$GWCTL" sample --to authority-b --id PIN-2 >"$T/pin.u.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/pin.u.xml" >"$T/pin.xml"
expect_eq "submission to the pinned push authority: 202" 202 "$(post_xml portal-1 "$T/pin.xml" "$T/pin.out")"
nid=$(xpath "$T/pin.out" "string(//*[local-name()='MessageID'])")
for _ in $(seq 1 100); do
	as portal-1 -o "$T/ncard.xml" "$URL/v1/submissions/$nid"
	[ "$(xpath "$T/ncard.xml" "string(//*[local-name()='Reader']/@state)")" = delivered ] && break
	sleep 0.2
done
expect_eq "endpoint_pin alone (no CA): delivered" delivered \
	"$(xpath "$T/ncard.xml" "string(//*[local-name()='Reader']/@state)")"
stop_gw
sed -i "s|^endpoint_pin = .*|endpoint_pin = sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=|" "$DEV/profiles/authority-b.conf"
start_gw
"$GWCTL" sample --to authority-b --id PIN-3 >"$T/pin3.u.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/pin3.u.xml" >"$T/pin3.xml"
expect_eq "submission to a push authority with a wrong pin: 202" 202 "$(post_xml portal-1 "$T/pin3.xml" "$T/pin3.out")"
wid3=$(xpath "$T/pin3.out" "string(//*[local-name()='MessageID'])")
for _ in $(seq 1 50); do
	n=$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE msg_id='$wid3' AND event='delivery.retry';")
	[ "$n" -ge 1 ] && break
	sleep 0.2
done
check "a wrong pin: the attempt fails and is retried" test "${n:-0}" -ge 1
as portal-1 -o "$T/wcard3.xml" "$URL/v1/submissions/$wid3"
check "... and the message is not delivered" \
	test "$(xpath "$T/wcard3.xml" "string(//*[local-name()='Reader']/@state)")" != delivered
finish
