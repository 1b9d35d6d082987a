#!/bin/bash
# Interoperability: a submission signed by the xmlsec1 CLI (not by our
# code) is accepted; one signed with a key from an unknown CA is not.
. "$(dirname "$0")/lib.sh"
command -v xmlsec1 >/dev/null || { skip "xmlsec1 CLI not installed"; exit 0; }
start_gw

"$GWCTL" sample --to authority-a >"$T/unsigned.xml"
tmpl='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>'
# Put the template in as the last child of the document element.
sed -E "s|(</([A-Za-z0-9_]+:)?Submission>)|${tmpl}\1|" "$T/unsigned.xml" >"$T/tmpl.xml"
xmlsec1 --sign --privkey-pem "$DEV/portal-1.key,$DEV/portal-1.pem" \
	--output "$T/xs.xml" "$T/tmpl.xml" 2>"$T/xmlsec.err" || fail "xmlsec1 --sign"
expect_eq "xmlsec1-signed submission: 202" 202 "$(post_xml portal-1 "$T/xs.xml" "$T/r.xml")"

openssl req -x509 -newkey rsa:3072 -nodes -days 2 -subj /CN=rogue \
	-keyout "$T/rogue.key" -out "$T/rogue.pem" 2>/dev/null
"$GWCTL" sample --to authority-a >"$T/u2.xml"
sed -E "s|(</([A-Za-z0-9_]+:)?Submission>)|${tmpl}\1|" "$T/u2.xml" >"$T/tmpl2.xml"
xmlsec1 --sign --privkey-pem "$T/rogue.key,$T/rogue.pem" --output "$T/rogue.xml" "$T/tmpl2.xml" 2>/dev/null
code=$(post_xml portal-1 "$T/rogue.xml" "$T/e.xml")
expect_eq "signer from an unknown CA: 422" 422 "$code"
expect_eq "signer from an unknown CA: code" CERT_UNTRUSTED "$(xpath "$T/e.xml" "string(/Error/Code)")"
