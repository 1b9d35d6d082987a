#!/bin/bash
# Push delivery, the receiving side: `gwctl authority serve` gets envelopes
# POSTed by the gateway (here: by curl with the gateway's certificate),
# checks the gateway's signature, decrypts, writes the parts durably and
# answers with a signed receipt; repeats are answered with the same
# receipt; forgeries, strangers and broken bodies are refused with nothing
# written; and each --fail mode does what the gateway's retry tests need.
. "$(dirname "$0")/lib.sh"
command -v xmlsec1 >/dev/null || { skip "xmlsec1 CLI not installed"; exit 0; }

ASPID=""
APORT=$((30000 + ($$ * 7) % 9000))
AURL=""
trap 'kill_as; finish' EXIT

kill_as() { [ -z "$ASPID" ] || { kill -9 "$ASPID" 2>/dev/null; wait "$ASPID" 2>/dev/null; ASPID=""; }; }

# gwcurl CURL-ARGS...: curl as the gateway (its certificate has clientAuth).
gwcurl() { curl -sS --max-time 20 --cacert "$DEV/ca.pem" --cert "$DEV/gateway.pem" --key "$DEV/gateway.key" "$@"; }

# start_as OUT [options...]: gwctl authority serve as authority-a on a free
# loopback port; sets AURL and ASPID.
start_as() {
	local out=$1 p
	shift
	for _ in 1 2 3 4 5; do
		p=$APORT; APORT=$((APORT + 1))
		"$GWCTL" authority serve --dev "$DEV" --as authority-a --out "$out" \
			--listen "127.0.0.1:$p" "$@" 2>>"$T/as.log" &
		ASPID=$!
		for _ in $(seq 1 100); do
			if gwcurl -o /dev/null "https://127.0.0.1:$p/healthz" 2>/dev/null; then
				AURL="https://127.0.0.1:$p"
				return 0
			fi
			kill -0 "$ASPID" 2>/dev/null || break
			sleep 0.1
		done
		kill_as
	done
	echo "FAIL: gwctl authority serve did not start"; tail -n 20 "$T/as.log"
	exit 1
}

# stop_as WHAT: SIGTERM; a clean stop exits 0 (a leak or crash does not).
stop_as() {
	kill -TERM "$ASPID" 2>/dev/null
	wait "$ASPID" 2>/dev/null
	local rc=$?
	ASPID=""
	expect_eq "$1: authority serve stops cleanly on SIGTERM" 0 "$rc"
}

# post FILE OUT [curl args...]: POST an envelope as the gateway; prints the status.
post() {
	local f=$1 o=$2
	shift 2
	gwcurl -o "$o" -w '%{http_code}' -H 'Content-Type: application/soap+xml; charset=utf-8' \
		"$@" --data-binary @"$f" "$AURL/deliver"
}

# verify_sig FILE: the enveloped signature verifies (xmlsec1, dev CA).
verify_sig() { xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$1" >/dev/null 2>&1; }

# listing DIR: every file below DIR with size and mtime (to see writes).
listing() { (cd "$1" && find . -printf '%p %s %T@\n' | sort); }

# sign_as KEY CERT IN OUT: IN without its signature, signed anew by the
# xmlsec1 CLI the way the gateway signs: a template as the last child of
# soap:Header, Reference URI="", enveloped + exc-c14n, SHA-256.
sign_as() {
	local alg=rsa-sha256
	openssl x509 -in "$2" -noout -text | grep -q id-ecPublicKey && alg=ecdsa-sha256
	local tmpl='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#'$alg'"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>'
	perl -0pe 's|<ds:Signature[ >].*?</ds:Signature>||s' "$3" |
		sed "s|</soap:Header>|${tmpl}</soap:Header>|" >"$T/tmpl.xml"
	xmlsec1 --sign --privkey-pem "$1,$2" --output "$4" "$T/tmpl.xml" 2>>"$T/xmlsec.log"
}

# submit_fetch READER SIGNED ENVELOPE: submit for READER, fetch its
# envelope from the mailbox (as the gateway would push it); prints the id.
submit_fetch() {
	"$GWCTL" sample --to "$1" --subject Push-Test >"$T/u.xml" &&
		"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/u.xml" >"$2" ||
		return 1
	post_xml portal-1 "$2" "$T/acc.xml" >/dev/null
	local id
	id=$(xpath "$T/acc.xml" "string(//*[local-name()='MessageID'])")
	as "$1" -o "$3" "$URL/v1/mailbox/$id" || return 1
	# A gateway that does not sign its envelopes yet: sign as it would.
	if [ "$(xpath "$3" "count(//*[local-name()='Signature'])")" = 0 ]; then
		sign_as "$DEV/gateway.key" "$DEV/gateway.pem" "$3" "$3.signed" && mv "$3.signed" "$3"
	fi
	echo "$id"
}

start_gw
id=$(submit_fetch authority-a "$T/signed.xml" "$T/env.xml")
check "an envelope for authority-a, fetched from the gateway" test -n "$id"
expect_eq "the gateway's signature is the last child of soap:Header" Signature \
	"$(xpath "$T/env.xml" "local-name(/*/*[local-name()='Header']/*[last()])")"
id2=$(submit_fetch authority-a "$T/signed2.xml" "$T/env2.xml")
idb=$(submit_fetch authority-b "$T/signedb.xml" "$T/envb.xml")

# ---- the normal case ----
OUT="$T/out"
mkdir -p "$OUT/.tmp-gw-00000000000000000000000000000000"
start_as "$OUT" --max-size 1048576
check "a half-written directory from a crash is removed at start" \
	test ! -e "$OUT/.tmp-gw-00000000000000000000000000000000"
expect_eq "delivery answers 200" 200 "$(post "$T/env.xml" "$T/r1.xml" -D "$T/h1.txt")"
check "the answer is application/xml" grep -qi '^content-type: application/xml' "$T/h1.txt"
check "the receipt verifies with xmlsec1 (dev CA)" \
	verify_sig "$T/r1.xml"
expect_eq "the receipt names the message" "$id" \
	"$(xpath "$T/r1.xml" "string(/*[local-name()='ReceptionReceipt']/*[local-name()='MessageID'])")"
expect_eq "the receipt names the reader" authority-a \
	"$(xpath "$T/r1.xml" "string(/*/*[local-name()='Reader'])")"
expect_eq "the receipt's SHA256 is that of the bytes posted" \
	"$(sha256sum "$T/env.xml" | cut -d' ' -f1)" "$(xpath "$T/r1.xml" "string(/*/*[local-name()='SHA256'])")"
expect_eq "the receipt says Duplicate false" false "$(xpath "$T/r1.xml" "string(/*/*[local-name()='Duplicate'])")"
check "the receipt has a Received time" \
	grep -Eq '<Received>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z</Received>' "$T/r1.xml"
check "OUT/<id>/submission.xml is byte-identical to the submitted file" \
	cmp -s "$T/signed.xml" "$OUT/$id/submission.xml"
check "the author's signature verifies at the authority (xmlsec1)" \
	verify_sig "$OUT/$id/submission.xml"
check "OUT/<id>/envelope.xml is the envelope as received" cmp -s "$T/env.xml" "$OUT/$id/envelope.xml"
check "OUT/<id>/receipt.xml is the receipt answered" cmp -s "$T/r1.xml" "$OUT/$id/receipt.xml"
expect_eq "OUT/<id>/inspection-report.xml: the author's signature was ok" ok \
	"$(xpath "$OUT/$id/inspection-report.xml" "string(//*[local-name()='MathResult'])")"
check "no temporary directory is left" test -z "$(find "$OUT" -maxdepth 1 -name '.tmp-*')"
before=$(listing "$OUT")
sleep 0.05
expect_eq "the same envelope again: 200" 200 "$(post "$T/env.xml" "$T/r2.xml")"
check "the same envelope again: the identical receipt bytes" cmp -s "$T/r1.xml" "$T/r2.xml"
expect_eq "the same envelope again: nothing written" "$before" "$(listing "$OUT")"

# ---- forgeries and strangers: refused, nothing written ----
sed 's|xmlenc#Element|xmlenc#Content|' "$T/env.xml" >"$T/tampered.xml"
check "tampering changed the body" not cmp -s "$T/env.xml" "$T/tampered.xml"
mv "$OUT/$id" "$T/moved"		# so that only the signature can stop it
before=$(listing "$OUT")
expect_eq "tampered body: 422" 422 "$(post "$T/tampered.xml" "$T/e.xml")"
expect_eq "tampered body: SIGNATURE_INVALID" SIGNATURE_INVALID "$(xpath "$T/e.xml" "string(/Error/Code)")"
expect_eq "tampered body: nothing written" "$before" "$(listing "$OUT")"
mv "$T/moved" "$OUT/$id"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=rogue -keyout "$T/rogue.key" -out "$T/rogue.pem" 2>/dev/null
before=$(listing "$OUT")
sign_as "$DEV/portal-1.key" "$DEV/portal-1.pem" "$T/env2.xml" "$T/byportal.xml" ||
	fail "xmlsec1 --sign as portal-1"
code=$(post "$T/byportal.xml" "$T/e.xml")
check "signed by another CA-issued key (portal-1): 422 or 403 ($code)" test "$code" = 422 -o "$code" = 403
expect_eq "signed by portal-1: CERT_UNTRUSTED" CERT_UNTRUSTED "$(xpath "$T/e.xml" "string(/Error/Code)")"
sign_as "$T/rogue.key" "$T/rogue.pem" "$T/env2.xml" "$T/byrogue.xml" || fail "xmlsec1 --sign as rogue"
expect_eq "signed by a self-signed key: 422" 422 "$(post "$T/byrogue.xml" "$T/e.xml")"
gwb64=$(grep -v -- ----- "$DEV/gateway.pem" | tr -d '\n')
perl -0pe "s|<ds:X509Certificate>.*?</ds:X509Certificate>|<ds:X509Certificate>$gwb64</ds:X509Certificate>|s" \
	"$T/byrogue.xml" >"$T/claims.xml"
expect_eq "another key claiming the gateway's certificate: 422" 422 "$(post "$T/claims.xml" "$T/e.xml")"
expect_eq "another key claiming the gateway's certificate: SIGNATURE_INVALID" SIGNATURE_INVALID \
	"$(xpath "$T/e.xml" "string(/Error/Code)")"
# The gateway's own signature moved from soap:Header to the end of the
# Envelope: the digest still holds (enveloped), the placement rule must
# catch it.
perl -0pe 's|(<ds:Signature[ >].*?</ds:Signature>)(.*)</soap:Envelope>|$2$1</soap:Envelope>|s' \
	"$T/env2.xml" >"$T/moved.xml"
expect_eq "the signature outside soap:Header: 422 SIGNATURE_PLACEMENT" "422 SIGNATURE_PLACEMENT" \
	"$(post "$T/moved.xml" "$T/e.xml") $(xpath "$T/e.xml" "string(/Error/Code)")"
code=$(as portal-1 --max-time 20 -o "$T/e.xml" -w '%{http_code}' -H 'Content-Type: application/soap+xml' \
	--data-binary @"$T/env2.xml" "$AURL/deliver")
expect_eq "a client certificate that is not the gateway's (portal-1): 403" 403 "$code"
expect_eq "wrong content type: 415" 415 "$(gwcurl -o "$T/e.xml" -w '%{http_code}' \
	-H 'Content-Type: application/xml' --data-binary @"$T/env2.xml" "$AURL/deliver")"
echo 'not <xml' >"$T/junk.txt"
expect_eq "a body that is not XML: 400" 400 "$(post "$T/junk.txt" "$T/e.xml")"
head -c 2000000 /dev/zero >"$T/big.bin"
expect_eq "a body over --max-size: 413" 413 "$(post "$T/big.bin" "$T/e.xml")"
expect_eq "an envelope encrypted for authority-b: 422 CRYPTO_ERROR" "422 CRYPTO_ERROR" \
	"$(post "$T/envb.xml" "$T/e.xml") $(xpath "$T/e.xml" "string(/Error/Code)")"
expect_eq "refused requests wrote nothing" "$before" "$(listing "$OUT")"

# An independent signer: xmlsec1 signs as the gateway.
sign_as "$DEV/gateway.key" "$DEV/gateway.pem" "$T/env2.xml" "$T/byxmlsec.xml" ||
	fail "xmlsec1 --sign as the gateway"
expect_eq "an envelope signed by xmlsec1 with the gateway's key: 200" 200 "$(post "$T/byxmlsec.xml" "$T/r3.xml")"
check "its submission arrived byte-identical" cmp -s "$T/signed2.xml" "$OUT/$id2/submission.xml"

# Attachments with hostile file names, in a container encrypted by an
# independent XML-Enc implementation and signed (xmlsec1) as the gateway.
if [ -d "$ROOT/tests/interop/node_modules/xml-encryption" ] && command -v node >/dev/null; then
	ida="gw-$(openssl rand -hex 16)"
	printf 'first\n' >"$T/att1"; printf 'second\n' >"$T/att2"; printf '%%PDF-1.4\n' >"$T/att3"
	{
		printf '<ContentContainer xmlns="urn:gatewayd:container:1">'
		printf '<Message id="message" filename="x.xml" contentType="application/xml" size="%s">%s</Message>' \
			"$(stat -c %s "$T/signed2.xml")" "$(base64 -w0 "$T/signed2.xml")"
		printf '<Attachment id="a1" filename="../../evil.sh" contentType="text/plain">%s</Attachment>' "$(base64 -w0 "$T/att1")"
		printf '<Attachment id="a2" filename=".hidden/../evil.sh" contentType="text/plain">%s</Attachment>' "$(base64 -w0 "$T/att2")"
		printf '<Attachment id="a3" filename="Bescheid (1).pdf" contentType="application/pdf">%s</Attachment>' "$(base64 -w0 "$T/att3")"
		printf '</ContentContainer>'
	} >"$T/container.xml"
	node "$ROOT/tests/interop/encrypt.js" "$DEV/authority-a.pem" "$T/container.xml" >"$T/enc.xml" ||
		fail "xml-encryption encrypts a container"
	ENC="$T/enc.xml" perl -0pe 'BEGIN { local $/; open(F, "<", $ENV{ENC}) or die; $e = <F>; }
		s|<xenc:EncryptedData\b.*</xenc:EncryptedData>|$e|s' "$T/env2.xml" |
		sed "s|<gw:MessageID>gw-[0-9a-f]*</gw:MessageID>|<gw:MessageID>$ida</gw:MessageID>|" >"$T/enva.xml"
	sign_as "$DEV/gateway.key" "$DEV/gateway.pem" "$T/enva.xml" "$T/enva.signed.xml" ||
		fail "xmlsec1 --sign the attachment envelope"
	expect_eq "a container with attachments: 200" 200 "$(post "$T/enva.signed.xml" "$T/ra.xml")"
	check "its message is submission.xml, byte-identical" cmp -s "$T/signed2.xml" "$OUT/$ida/submission.xml"
	check "attachment ../../evil.sh lands as attachments/evil.sh" cmp -s "$T/att1" "$OUT/$ida/attachments/evil.sh"
	check "a second evil.sh gets a name of its own" cmp -s "$T/att2" "$OUT/$ida/attachments/2-evil.sh"
	check "'Bescheid (1).pdf' gets a safe name" cmp -s "$T/att3" "$OUT/$ida/attachments/Bescheid__1_.pdf"
	expect_eq "nothing was written outside OUT/<id>" "" \
		"$(find "$T" -name 'evil.sh' -not -path "$OUT/$ida/attachments/*")"
else
	skip "npm xml-encryption not installed: attachments not tested (make deps installs it)"
fi

# OUT/<id> without receipt.xml (e.g. put there by hand): answered with a
# new receipt that says Duplicate, which is then kept.
rm "$OUT/$id2/receipt.xml"
expect_eq "a known message without a receipt: 200" 200 "$(post "$T/byxmlsec.xml" "$T/r4.xml")"
expect_eq "... with Duplicate true" true "$(xpath "$T/r4.xml" "string(/*/*[local-name()='Duplicate'])")"
check "... stored as its receipt.xml" cmp -s "$T/r4.xml" "$OUT/$id2/receipt.xml"
stop_as "normal"
check "one log line per request, with time, id and result" grep -Eq "^[0-9T:.-]+Z $id 200 stored$" "$T/as.log"
check "the log holds no document content" not grep -q "Push-Test" "$T/as.log"

# ---- --fail 500 for the first request ----
OUT5="$T/out500"
start_as "$OUT5" --fail 500 --fail-first 1
expect_eq "--fail 500: 500" 500 "$(post "$T/env.xml" "$T/f.xml")"
check "--fail 500: nothing written" test -z "$(ls -A "$OUT5")"
expect_eq "--fail-first 1: the next request is served: 200" 200 "$(post "$T/env.xml" "$T/f.xml")"
check "... with a receipt that verifies" verify_sig "$T/f.xml"
stop_as "--fail 500"

# ---- --fail garbage ----
OUTG="$T/outg"
start_as "$OUTG" --fail garbage
expect_eq "--fail garbage: 200" 200 "$(post "$T/env.xml" "$T/g.xml")"
check "--fail garbage: the body is not XML" not xmllint --noout "$T/g.xml" 2>/dev/null
check "--fail garbage: the message itself was stored" cmp -s "$T/signed.xml" "$OUTG/$id/submission.xml"
stop_as "--fail garbage"

# ---- --fail badsig for the first request; then write failures ----
OUTB="$T/outb"
start_as "$OUTB" --fail badsig --fail-first 1
expect_eq "--fail badsig: 200" 200 "$(post "$T/env.xml" "$T/b.xml")"
expect_eq "--fail badsig: a well-formed receipt for the message" "$id" \
	"$(xpath "$T/b.xml" "string(/*/*[local-name()='MessageID'])")"
check "--fail badsig: its signature does not verify" \
	not verify_sig "$T/b.xml"
expect_eq "the retry: 200" 200 "$(post "$T/env.xml" "$T/b2.xml")"
check "the retry: the stored receipt, which verifies" verify_sig "$T/b2.xml"
rm -rf "$OUTB"
expect_eq "OUT gone: 503 (nothing acknowledged)" "503 STORE_ERROR" \
	"$(post "$T/env2.xml" "$T/b3.xml") $(xpath "$T/b3.xml" "string(/Error/Code)")"
stop_as "--fail badsig"

# ---- --fail slow ----
OUTS="$T/outs"
start_as "$OUTS" --fail slow
code=$(post "$T/env.xml" "$T/s.xml" --max-time 2 2>/dev/null)
expect_eq "--fail slow: no answer within 2 s" 000 "$code"
check "--fail slow: the message was stored meanwhile" cmp -s "$T/signed.xml" "$OUTS/$id/submission.xml"
stop_as "--fail slow, an answer pending"

check "no sanitizer report" not grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$T/as.log"
if [ "$FAILED" -ne 0 ]; then echo "--- authority serve log ---"; tail -n 40 "$T/as.log"; fi
