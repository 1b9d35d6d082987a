#!/bin/bash
# Signer revocation in the daemon: with `revocation = require` a signer
# whose status cannot be established is refused (422 CERT_INDETERMINATE);
# with a local CRL (`crl = ...`) a revoked signer is refused (422
# CERT_REVOKED) and a good one accepted (a green process card); `prefer`
# accepts without an answer, with a yellow process card that names the
# missing answer and the full inspection report in the authority's
# container.
. "$(dirname "$0")/lib.sh"
start_gw
make_signed "$T/s1.xml" --id rev-1
expect_eq "default (prefer), no revocation source: accepted" 202 "$(post_xml portal-1 "$T/s1.xml" "$T/r1.xml")"
# ... and said so: the process card is yellow with a warning naming the
# missing answer, the authority's container holds the full inspection
# report, and the transport report is yellow (2) once delivered.
ID=$(xpath "$T/r1.xml" "string(/*[local-name()='AcceptanceReceipt']/*[local-name()='MessageID'])")
as portal-1 -o "$T/card1.xml" "$URL/v1/submissions/$ID"
C="/*[local-name()='ProcessCard']"
expect_eq "prefer, no answer: the card is yellow" yellow "$(xpath "$T/card1.xml" "string($C/*[local-name()='Status'])")"
expect_eq "prefer, no answer: the card's warning" REVOCATION_UNAVAILABLE \
	"$(xpath "$T/card1.xml" "string($C/*[local-name()='Warning']/@code)")"
SIG="*[local-name()='InspectionReport']/*[local-name()='Signature']"
expect_eq "prefer, no answer: the card's report names the signer's missing answer" unavailable \
	"$(xpath "$T/card1.xml" "string($C/$SIG/*[local-name()='Certificate'][@role='signer']/*[local-name()='OnlineResult'])")"
as authority-a -o "$T/env1.xml" "$URL/v1/mailbox/$ID"
"$GWCTL" decrypt --key "$DEV/authority-a.key" --out "$T/dec1" "$T/env1.xml" >/dev/null
R="$T/dec1/inspection-report.xml"
expect_eq "container: the full report, valid" valid "$(xpath "$R" "string(/*[local-name()='InspectionReport']/*[local-name()='Result'])")"
expect_eq "container: the report's warning" REVOCATION_UNAVAILABLE \
	"$(xpath "$R" "string(/$SIG/*[local-name()='Warning']/@code)")"
expect_eq "container: the signer's online result is unavailable (no answer)" unavailable \
	"$(xpath "$R" "string(/$SIG/*[local-name()='Certificate'][@role='signer']/*[local-name()='OnlineResult'])")"
expect_eq "container: the path and the signer's type are in it" "advanced 2" \
	"$(xpath "$R" "concat(/$SIG/*[local-name()='Certificate'][@role='signer']/*[local-name()='CertificateType'], ' ', count(/$SIG/*[local-name()='Certificate']))")"
check "container: the report validates against inspection.xsd" \
	xmllint --noout --schema "$ROOT/gateway/schemas/inspection.xsd" "$R"
as authority-a -o /dev/null -X POST "$URL/v1/mailbox/$ID/close"
as portal-1 -o "$T/tr1.xml" "$URL/v1/submissions/$ID/report"
expect_eq "transport report: yellow (2) once delivered" 2 "$(xpath "$T/tr1.xml" "string(/*/*[local-name()='Status'])")"
expect_eq "transport report: the warning record" REVOCATION_UNAVAILABLE \
	"$(xpath "$T/tr1.xml" "string(//*[local-name()='Warning'][@event='inspection.warning']/@code)")"
stop_gw

echo "revocation = require" >>"$DEV/gateway.conf"
start_gw
make_signed "$T/s2.xml" --id rev-2
expect_eq "require without any answer: 422" 422 "$(post_xml portal-1 "$T/s2.xml" "$T/r2.xml")"
expect_eq "require without any answer: code" CERT_INDETERMINATE "$(xpath "$T/r2.xml" "string(/Error/Code)")"
stop_gw

# A CRL from the development CA: first revoking authority-a, then portal-1.
mkdir -p "$T/ca"
touch "$T/ca/index.txt"
echo 1000 >"$T/ca/crlnumber"
cat >"$T/ca/ca.cnf" <<X
[ ca ]
default_ca = CA_default
[ CA_default ]
database = $T/ca/index.txt
crlnumber = $T/ca/crlnumber
default_md = sha256
default_crl_days = 7
X
crl() {
	openssl ca -config "$T/ca/ca.cnf" -revoke "$DEV/$1.pem" -keyfile "$DEV/ca.key" \
		-cert "$DEV/ca.pem" >/dev/null 2>&1
	openssl ca -config "$T/ca/ca.cnf" -gencrl -keyfile "$DEV/ca.key" -cert "$DEV/ca.pem" \
		-out "$DEV/ca.crl" >/dev/null 2>&1
}
crl authority-a
echo "crl = ca.crl" >>"$DEV/gateway.conf"
start_gw
make_signed "$T/s3.xml" --id rev-3
expect_eq "require, CRL says the signer is good: accepted" 202 "$(post_xml portal-1 "$T/s3.xml" "$T/r3.xml")"
ID=$(xpath "$T/r3.xml" "string(/*[local-name()='AcceptanceReceipt']/*[local-name()='MessageID'])")
as portal-1 -o "$T/card3.xml" "$URL/v1/submissions/$ID"
expect_eq "a good answer: the card is green" green "$(xpath "$T/card3.xml" "string(/*/*[local-name()='Status'])")"
stop_gw
crl portal-1
start_gw
make_signed "$T/s4.xml" --id rev-4
expect_eq "revoked signer: 422" 422 "$(post_xml portal-1 "$T/s4.xml" "$T/r4.xml")"
expect_eq "revoked signer: code" CERT_REVOKED "$(xpath "$T/r4.xml" "string(/Error/Code)")"
expect_eq "audit: the revoked signer's rejection" 1 "$(audit_count submission.rejected CERT_REVOKED)"
