#!/bin/bash
# Crash safety of delivery: GW_CRASH_N (default 1000) messages, half pulled
# by authority-a, half pushed to authority-b (`gwctl authority serve`),
# while gatewayd is killed with SIGKILL at random moments and restarted,
# during intake and during delivery.  Afterwards every message is at its
# authority exactly once, none is lost, every process card is complete,
# and the audit log verifies.
. "$(dirname "$0")/lib.sh"
command -v xmlsec1 >/dev/null || { skip "xmlsec1 CLI not installed"; exit 0; }
"$GWCTL" authority serve --help >/dev/null 2>&1 || { skip "gwctl authority serve missing"; exit 0; }
N=${GW_CRASH_N:-1000}
APORT=$((PORT + 9))
OUT="$T/inbox"
mkdir -p "$OUT" "$T/docs" "$T/rc"

start_gw
stop_gw
sed -i "/^delivery/d" "$DEV/profiles/authority-b.conf"
cat >>"$DEV/profiles/authority-b.conf" <<X
delivery = push
endpoint = https://127.0.0.1:$APORT/xta
endpoint_ca = ../ca.pem
receipt_cert = ../authority-b.pem
retry_base = 50
retry_max = 500
max_attempts = 1000
X
start_gw
"$GWCTL" authority serve --dev "$DEV" --as authority-b --out "$OUT" \
	--listen "127.0.0.1:$APORT" >>"$T/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; finish' EXIT

# N signed documents (signed by the xmlsec1 CLI: fast, and independent).
tmpl='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>'
for r in a b; do
	"$GWCTL" sample --to "authority-$r" |
		sed -E "s|(</([A-Za-z0-9_]+:)?Submission>)|${tmpl}\1|" >"$T/tmpl-$r.xml"
done
for i in $(seq 1 "$N"); do
	r=$([ $((i % 2)) = 0 ] && echo a || echo b)
	sed "s|<MessageID>[^<]*</MessageID>|<MessageID>crash-$i</MessageID>|" "$T/tmpl-$r.xml" >"$T/docs/t$i.xml"
	xmlsec1 --sign --privkey-pem "$DEV/portal-1.key,$DEV/portal-1.pem" \
		--output "$T/docs/$i.xml" "$T/docs/t$i.xml" 2>/dev/null || fail "sign $i"
	rm -f "$T/docs/t$i.xml"
done
pass "$N documents signed"

# The portal: submits each until it has a 202 (a retry after a crash is
# answered with the original receipt).
submitter() {
	local i code
	for i in $(seq 1 "$N"); do
		for _ in $(seq 1 600); do
			code=$(post_xml portal-1 "$T/docs/$i.xml" "$T/rc/$i.xml" 2>/dev/null)
			[ "$code" = 202 ] && break
			sleep 0.1
		done
		[ "$code" = 202 ] || echo "gave up on $i ($code)" >>"$T/submitter.err"
	done
}
submitter &
SUB=$!
kills=0
while kill -0 "$SUB" 2>/dev/null; do
	sleep "$(( (RANDOM % 3) + 1 )).$(( RANDOM % 10 ))"
	kill -0 "$SUB" 2>/dev/null || break
	kill9_gw; kills=$((kills + 1))
	start_gw
done
wait "$SUB"
check "every message got a 202 (after $kills kills during intake)" test ! -s "$T/submitter.err"

# authority-a pulls (fetch, then close) while the gateway is killed again.
pulled="$T/pulled.txt"; : >"$pulled"
puller() {
	local id code
	for _ in $(seq 1 5000); do
		hdr=$(as authority-a -D - -o "$T/p.xml" "$URL/v1/mailbox/next" 2>/dev/null)
		code=$(head -n1 <<<"$hdr" | cut -d' ' -f2)
		if [ "$code" = 404 ]; then break; fi
		[ "$code" = 200 ] || { sleep 0.1; continue; }
		id=$(sed -n 's|^Location: /v1/mailbox/\(gw-[0-9a-f]*\).*|\1|ip' <<<"$hdr" | tr -d '\r')
		cp "$T/p.xml" "$T/pulled-$id.xml"
		as authority-a -o /dev/null -X POST "$URL/v1/mailbox/$id/close" 2>/dev/null &&
			echo "$id" >>"$pulled"
	done
}
puller &
PUL=$!
for _ in 1 2 3; do
	sleep 2
	kill9_gw; kills=$((kills + 1))
	start_gw
done
wait "$PUL"
puller	# whatever a kill interrupted between fetch and close
# push: wait until nothing is left undelivered (bounded)
for _ in $(seq 1 600); do
	left=$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM deliveries WHERE state != 'delivered';")
	[ "$left" = 0 ] && break
	sleep 0.5
done
expect_eq "every delivery ends delivered (after $kills kills)" 0 "$left"

ids=$(for i in $(seq 1 "$N"); do xpath "$T/rc/$i.xml" "string(//*[local-name()='MessageID'])"; echo; done | sort)
expect_eq "one gateway id per message" "$N" "$(sort -u <<<"$ids" | grep -c .)"
npush=$(ls "$OUT" | grep -c '^gw-')
expect_eq "authority-b holds each pushed message exactly once" $((N / 2 + N % 2)) "$npush"
bad=0
for i in $(seq 1 2 "$N"); do
	id=$(xpath "$T/rc/$i.xml" "string(//*[local-name()='MessageID'])")
	cmp -s "$T/docs/$i.xml" "$OUT/$id/submission.xml" || bad=$((bad + 1))
done
expect_eq "every pushed message arrived byte-exact" 0 "$bad"
expect_eq "authority-a closed each pulled message once" $((N / 2)) "$(sort -u "$pulled" | grep -c .)"
incomplete=$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM messages m JOIN deliveries d ON d.msg_id = m.id WHERE m.received_ms = 0 OR m.forwarded_ms = 0 OR d.closed_ms = 0;")
expect_eq "every process card has Creation, Forwarding and Reception" 0 "$incomplete"
sleep 1.5
check "the audit log verifies after all the kills" "$GWCTL" audit verify --dev "$DEV"
