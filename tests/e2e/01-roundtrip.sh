#!/bin/bash
# A portal submits a signed document; the authority lists, fetches,
# decrypts (with gwctl and with an independent XML-Enc implementation) and
# closes it; the bytes that come out are the bytes that went in, and the
# author's signature still verifies with the xmlsec1 CLI.
. "$(dirname "$0")/lib.sh"
start_gw

make_signed "$T/signed.xml" --subject "Antrag auf Wohngeld" || fail "sign a sample"
code=$(post_xml portal-1 "$T/signed.xml" "$T/receipt.xml")
expect_eq "submit answers 202" 202 "$code"
id=$(xpath "$T/receipt.xml" "string(//*[local-name()='MessageID'])")
check "receipt names a gateway message id" test -n "$id"
expect_eq "receipt SHA-256 is that of the bytes sent" \
	"$(sha256sum "$T/signed.xml" | cut -d' ' -f1)" \
	"$(xpath "$T/receipt.xml" "string(//*[local-name()='SHA256'])")"
expect_eq "receipt names the reader" authority-a \
	"$(xpath "$T/receipt.xml" "string(//*[local-name()='Reader'])")"
check "receipt signature verifies with xmlsec1" \
	xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/receipt.xml"

as authority-a -o "$T/list.xml" "$URL/v1/mailbox"
expect_eq "mailbox of authority-a lists the message" "$id" \
	"$(xpath "$T/list.xml" "string(//*[local-name()='Message']/@id)")"
as authority-b -o "$T/listb.xml" "$URL/v1/mailbox"
expect_eq "mailbox of authority-b is empty" 0 \
	"$(xpath "$T/listb.xml" "string(/*/@count)")"

code=$(as authority-a -o "$T/msg.xml" -w '%{http_code}' "$URL/v1/mailbox/$id")
expect_eq "fetch answers 200" 200 "$code"
check "envelope is SOAP 1.2 with one EncryptedData" test "$(xpath "$T/msg.xml" \
	"count(/*[local-name()='Envelope']/*[local-name()='Body']/*[local-name()='EncryptedData'])")" = 1
check "envelope announces a 12-byte GCM IV" test "$(xpath "$T/msg.xml" \
	"string(//*[local-name()='IvLength']/@Value)")" = 12
check "content key wrapped with xmlenc11 rsa-oaep + MGF1-SHA256" test "$(xpath "$T/msg.xml" \
	"string(//*[local-name()='EncryptedKey']/*[local-name()='EncryptionMethod']/*[local-name()='MGF']/@Algorithm)")" \
	= "http://www.w3.org/2009/xmlenc11#mgf1sha256"
check "the envelope carries the gateway's signature in soap:Header" test "$(xpath "$T/msg.xml" \
	"count(/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Signature'])")" = 1
check "the envelope's signature verifies with xmlsec1" \
	xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/msg.xml"
code=$(as authority-b -o /dev/null -w '%{http_code}' "$URL/v1/mailbox/$id")
expect_eq "authority-b cannot fetch authority-a's message" 404 "$code"

"$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/msg.xml" >"$T/out.xml" ||
	fail "gwctl decrypt"
check "gwctl decrypt gives back the submitted bytes exactly" cmp -s "$T/signed.xml" "$T/out.xml"
check "author's signature verifies with xmlsec1 at the authority" \
	xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/out.xml"

if [ -d "$ROOT/tests/interop/node_modules/xml-encryption" ] && command -v node >/dev/null; then
	node "$ROOT/tests/interop/decrypt.js" "$DEV/authority-a.key" "$T/msg.xml" \
		>"$T/container.xml" || fail "xml-encryption decrypts the envelope"
	xpath "$T/container.xml" "string(//*[local-name()='Message'])" | base64 -d >"$T/out2.xml"
	check "independent XML-Enc (npm xml-encryption) gives back the same bytes" \
		cmp -s "$T/signed.xml" "$T/out2.xml"
	expect_eq "container carries the inspection report (signature ok)" ok \
		"$(xpath "$T/container.xml" "string(//*[local-name()='MathResult'])")"
else
	skip "npm xml-encryption not installed (make deps installs it)"
fi

code=$(as authority-a -o "$T/closed.xml" -w '%{http_code}' -X POST "$URL/v1/mailbox/$id/close")
expect_eq "close answers 200" 200 "$code"
as authority-a -o "$T/list2.xml" "$URL/v1/mailbox"
expect_eq "closed message left the mailbox" 0 "$(xpath "$T/list2.xml" "string(/*/@count)")"

code=$(as portal-1 -o "$T/card.xml" -w '%{http_code}' "$URL/v1/submissions/$id")
expect_eq "process card answers 200" 200 "$code"
for f in Creation Forwarding Reception; do
	check "process card has $f" test -n "$(xpath "$T/card.xml" "string(/*/*[local-name()='$f'])")"
done
expect_eq "reader state delivered" delivered \
	"$(xpath "$T/card.xml" "string(//*[local-name()='Reader']/@state)")"
expect_eq "inspection: chain valid" valid \
	"$(xpath "$T/card.xml" "string(//*[local-name()='OfflineResult'])")"
expect_eq "audit: one submission.accepted" 1 "$(audit_count submission.accepted)"
expect_eq "audit: one mailbox.closed" 1 "$(audit_count mailbox.closed)"
