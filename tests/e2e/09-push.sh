#!/bin/bash
# Push delivery to a real receiving side (`gwctl authority serve`) over
# mutual TLS: delivered with a verified receipt and byte-exact content;
# an endpoint that is down, answers 500, garbage or a badly signed receipt
# is retried and never marked delivered; a message can fail for good, and
# be cancelled before delivery.
. "$(dirname "$0")/lib.sh"
"$GWCTL" authority serve --help >/dev/null 2>&1 || { skip "gwctl authority serve missing"; exit 0; }

APORT=$((PORT + 7))
OUT="$T/inbox"
mkdir -p "$OUT"
SERVE_PID=""

# First start writes the dev configuration; then authority-b becomes push.
start_gw
stop_gw
# The development CA answers no revocation queries: under the default
# "prefer" every message would be yellow (12-revocation.sh); here the
# transport report's colour is about delivery alone.
echo "revocation = off" >>"$DEV/gateway.conf"
sed -i "/^delivery/d" "$DEV/profiles/authority-b.conf"
cat >>"$DEV/profiles/authority-b.conf" <<X
delivery = push
endpoint = https://127.0.0.1:$APORT/xta
endpoint_ca = ../ca.pem
receipt_cert = ../authority-b.pem
retry_base = 100
retry_max = 1000
max_attempts = 40
X
start_gw

serve() {	# serve [fault options...]
	"$GWCTL" authority serve --dev "$DEV" --as authority-b --out "$OUT" \
		--listen "127.0.0.1:$APORT" "$@" >>"$T/serve.log" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 1 100); do
		curl -s -o /dev/null --cacert "$DEV/ca.pem" "https://127.0.0.1:$APORT/" 2>/dev/null && return 0
		grep -q "listening" "$T/serve.log" 2>/dev/null && return 0
		sleep 0.1
	done
}
unserve() { [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=""; }
trap 'unserve; finish' EXIT

# submit_b NAME: a signed message for authority-b; prints its gateway id.
submit_b() {
	"$GWCTL" sample --to authority-b --id "$1" >"$T/$1.u.xml"
	"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/$1.u.xml" >"$T/$1.xml"
	[ "$(post_xml portal-1 "$T/$1.xml" "$T/$1.r.xml")" = 202 ] || { echo "submit $1 failed" >&2; return 1; }
	xpath "$T/$1.r.xml" "string(//*[local-name()='MessageID'])"
}
# state ID: the reader state on the process card.
state() {
	as portal-1 -o "$T/card.xml" "$URL/v1/submissions/$1"
	xpath "$T/card.xml" "string(//*[local-name()='Reader']/@state)"
}
# wait_state ID STATE SECONDS
wait_state() {
	local i
	for i in $(seq 1 $(($3 * 5))); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

serve
id=$(submit_b push-1)
check "pushed message is delivered" wait_state "$id" delivered 30
check "the authority has the submitted bytes exactly" cmp -s "$T/push-1.xml" "$OUT/$id/submission.xml"
check "process card has Reception" test -n "$(xpath "$T/card.xml" "string(//*[local-name()='Reader']/*[local-name()='Reception'])")"
as portal-1 -o "$T/rep.xml" "$URL/v1/submissions/$id/report"
expect_eq "transport report: green" 1 "$(xpath "$T/rep.xml" "string(//*[local-name()='Status'])")"
check "transport report is signed by the gateway" xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/rep.xml"
expect_eq "stored receipt: one delivery.delivered event" 1 \
	"$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='delivery.delivered' AND msg_id='$id';")"

# Endpoint down: messages wait, are retried, and all arrive afterwards.
unserve
ids=""
for i in 1 2 3; do ids="$ids $(submit_b down-$i)"; done
sleep 2
id=$(echo $ids | cut -d' ' -f1)
check "while the endpoint is down nothing is delivered" test "$(state "$id")" != delivered
check "the attempts and their error are on the card" test -n "$(xpath "$T/card.xml" "string(//*[local-name()='LastError'])")"
serve
ok=1
for id in $ids; do wait_state "$id" delivered 60 || ok=0; done
check "all three arrive once the endpoint is back" test $ok = 1
n=0; for id in $ids; do [ -f "$OUT/$id/submission.xml" ] && n=$((n + 1)); done
expect_eq "each written once at the authority" 3 "$n"

# 500, garbage and a bad receipt signature: retried, flagged, then delivered.
for mode in 500 garbage badsig; do
	unserve
	serve --fail "$mode" --fail-first 2
	id=$(submit_b "fault-$mode")
	check "after '$mode' answers the message is still delivered" wait_state "$id" delivered 60
	expect_eq "'$mode': not marked delivered on the faulty answers" 2 \
		"$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='delivery.retry' AND msg_id='$id';")"
	as portal-1 -o "$T/rep.xml" "$URL/v1/submissions/$id/report"
	expect_eq "'$mode': the report is yellow (warnings)" 2 "$(xpath "$T/rep.xml" "string(//*[local-name()='Status'])")"
done

# Cancel before delivery.
unserve
id=$(submit_b cancel-1)
code=$(as portal-1 -o "$T/c.xml" -w '%{http_code}' -X POST "$URL/v1/submissions/$id/cancel")
expect_eq "cancel answers 200" 200 "$code"
expect_eq "cancelled" cancelled "$(state "$id")"
serve
sleep 1
check "a cancelled message is never delivered" test ! -e "$OUT/$id"
