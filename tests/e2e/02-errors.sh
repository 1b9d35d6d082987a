#!/bin/bash
# Every kind of bad request gets its HTTP status, a machine-readable code in
# an XML <Error> body, and an audit entry; none of them stores anything.
. "$(dirname "$0")/lib.sh"
start_gw

# err WHO STATUS CODE DESCRIPTION CURL-ARGS...
err() {
	local who=$1 want=$2 wantcode=$3 desc=$4; shift 4
	local got
	if [ "$who" = none ]; then
		got=$(curl -sS --cacert "$DEV/ca.pem" -o "$T/err.xml" -w '%{http_code}' "$@")
	else
		got=$(as "$who" -o "$T/err.xml" -w '%{http_code}' "$@")
	fi
	local code
	code=$(xpath "$T/err.xml" "string(/Error/Code)")
	if [ "$got" = "$want" ] && [ "$code" = "$wantcode" ] &&
	   [ -n "$(xpath "$T/err.xml" "string(/Error/Message)")" ]; then
		pass "$desc: $want $wantcode"
	else
		fail "$desc: want $want $wantcode, got $got '$code'"
	fi
}
sub() { echo -H 'Content-Type: application/xml' --data-binary @"$1" "$URL/v1/submissions"; }
ct='Content-Type: application/xml'

printf '<a><b></a>' >"$T/malformed.xml"
err portal-1 400 XML_MALFORMED "malformed XML" -H "$ct" --data-binary @"$T/malformed.xml" "$URL/v1/submissions"

cat >"$T/dtd.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>
X
err portal-1 400 XML_DTD_FORBIDDEN "DOCTYPE (entity expansion)" -H "$ct" --data-binary @"$T/dtd.xml" "$URL/v1/submissions"

cat >"$T/xxe.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>
X
err portal-1 400 XML_DTD_FORBIDDEN "external entity" -H "$ct" --data-binary @"$T/xxe.xml" "$URL/v1/submissions"

printf '<other xmlns="urn:example"/>' >"$T/schema.xml"
err portal-1 400 SCHEMA_INVALID "not a submission" -H "$ct" --data-binary @"$T/schema.xml" "$URL/v1/submissions"

"$GWCTL" sample --to authority-a >"$T/unsigned.xml"
err portal-1 422 SIGNATURE_MISSING "unsigned submission" -H "$ct" --data-binary @"$T/unsigned.xml" "$URL/v1/submissions"

make_signed "$T/signed.xml"
err none 403 CLIENT_CERT_REQUIRED "no client certificate" -H "$ct" --data-binary @"$T/signed.xml" "$URL/v1/submissions"

# A certificate from a CA the gateway does not know.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=stranger -keyout "$T/stranger.key" -out "$T/stranger.pem" 2>/dev/null
got=$(curl -sS --cacert "$DEV/ca.pem" --cert "$T/stranger.pem" --key "$T/stranger.key" \
	-o "$T/err.xml" -w '%{http_code}' "$URL/v1/mailbox")
expect_eq "unknown client certificate: 403" 403 "$got"
expect_eq "unknown client certificate: code" CLIENT_CERT_REQUIRED "$(xpath "$T/err.xml" "string(/Error/Code)")"

err authority-a 403 FORBIDDEN "an authority cannot submit" -H "$ct" --data-binary @"$T/signed.xml" "$URL/v1/submissions"
err portal-1 403 FORBIDDEN "a portal has no mailbox" "$URL/v1/mailbox"

make_signed "$T/sender.xml" --from portal-9
err portal-1 403 FORBIDDEN "Sender is not the authenticated portal" -H "$ct" --data-binary @"$T/sender.xml" "$URL/v1/submissions"

err portal-1 404 NOT_FOUND "unknown path" "$URL/v1/nothing"
err portal-1 404 NOT_FOUND "unknown message" "$URL/v1/submissions/gw-00000000000000000000000000000000"
err portal-1 405 METHOD_NOT_ALLOWED "GET on the submission collection" "$URL/v1/submissions"

err portal-1 415 UNSUPPORTED_MEDIA_TYPE "text/plain body" -H 'Content-Type: text/plain' --data-binary @"$T/signed.xml" "$URL/v1/submissions"

sed 's/Wohngeld/Wohnge1d/' "$T/signed.xml" >"$T/tampered.xml"
check "tampered copy differs" not cmp -s "$T/signed.xml" "$T/tampered.xml"
err portal-1 422 SIGNATURE_INVALID "tampered content" -H "$ct" --data-binary @"$T/tampered.xml" "$URL/v1/submissions"

"$GWCTL" sample --to authority-z >"$T/u2.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/u2.xml" >"$T/unknown-reader.xml"
err portal-1 422 UNKNOWN_READER "unknown reader authority" -H "$ct" --data-binary @"$T/unknown-reader.xml" "$URL/v1/submissions"

# A valid signature by the wrong kind of key: an authority's or the gateway's.
"$GWCTL" sample --to authority-a >"$T/wk.xml"
"$GWCTL" sign --key "$DEV/authority-b.key" --cert "$DEV/authority-b.pem" "$T/wk.xml" >"$T/by-authority.xml"
err portal-1 422 CERT_USAGE "signed with an authority's certificate" -H "$ct" --data-binary @"$T/by-authority.xml" "$URL/v1/submissions"
"$GWCTL" sign --key "$DEV/gateway.key" --cert "$DEV/gateway.pem" "$T/wk.xml" >"$T/by-gateway.xml"
err portal-1 422 CERT_USAGE "signed with the gateway's own certificate" -H "$ct" --data-binary @"$T/by-gateway.xml" "$URL/v1/submissions"

# Same MessageID, other bytes.
"$GWCTL" sample --to authority-a --id dup-1 --subject one >"$T/d1u.xml"
"$GWCTL" sample --to authority-a --id dup-1 --subject two >"$T/d2u.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/d1u.xml" >"$T/d1.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/d2u.xml" >"$T/d2.xml"
expect_eq "first use of a MessageID: 202" 202 "$(post_xml portal-1 "$T/d1.xml" "$T/r1.xml")"
err portal-1 409 DUPLICATE_MESSAGE_ID "MessageID reused with other content" -H "$ct" --data-binary @"$T/d2.xml" "$URL/v1/submissions"

# Over max_body (16 MiB in --dev): refused from Content-Length, before the body.
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big.xml"
err portal-1 413 TOO_LARGE "17 MiB body" -H "$ct" --data-binary @"$T/big.xml" "$URL/v1/submissions"

expect_eq "audit: XML_DTD_FORBIDDEN twice" 2 "$(audit_count submission.rejected XML_DTD_FORBIDDEN)"
expect_eq "audit: SIGNATURE_INVALID once" 1 "$(audit_count submission.rejected SIGNATURE_INVALID)"
# Unknown clients are counted and written once a second (no fsync each).
sleep 1.5
expect_eq "audit: both unknown-client requests counted" 2 "$(sqlite3 "$DEV/gateway.db" \
	"SELECT sum(CAST(substr(detail, 1, instr(detail, ' ') - 1) AS INTEGER)) FROM audit WHERE event='client.rejected' AND code='CLIENT_CERT_REQUIRED';")"
expect_eq "audit: DUPLICATE_MESSAGE_ID" 1 "$(audit_count submission.rejected DUPLICATE_MESSAGE_ID)"
expect_eq "only the one good submission was stored" 1 \
	"$(sqlite3 "$DEV/gateway.db" 'SELECT count(*) FROM messages;')"
check "healthz still 200 after all that" curl -sf --cacert "$DEV/ca.pem" -o /dev/null "$URL/healthz"
