#!/bin/bash
# Signer revocation in the daemon: with `revocation = require` a signer
# whose status cannot be established is refused (422 CERT_INDETERMINATE);
# with a local CRL (`crl = ...`) a revoked signer is refused (422
# CERT_REVOKED) and a good one accepted; `prefer` accepts without an answer.
. "$(dirname "$0")/lib.sh"
start_gw
make_signed "$T/s1.xml" --id rev-1
expect_eq "default (prefer), no revocation source: accepted" 202 "$(post_xml portal-1 "$T/s1.xml" "$T/r1.xml")"
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
stop_gw
crl portal-1
start_gw
make_signed "$T/s4.xml" --id rev-4
expect_eq "revoked signer: 422" 422 "$(post_xml portal-1 "$T/s4.xml" "$T/r4.xml")"
expect_eq "revoked signer: code" CERT_REVOKED "$(xpath "$T/r4.xml" "string(/Error/Code)")"
expect_eq "audit: the revoked signer's rejection" 1 "$(audit_count submission.rejected CERT_REVOKED)"
