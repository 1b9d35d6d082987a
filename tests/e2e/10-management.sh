#!/bin/bash
# XTA's management port and mailbox extras: createMessageId, lookupService,
# checkAccountActive, get-next-message, transport reports, and a message
# that expires at its ObsoleteAfter time without being fetched.
. "$(dirname "$0")/lib.sh"
# The development CA answers no revocation queries: under the default
# "prefer" every message would be yellow (12-revocation.sh); here the
# transport report's colour is about delivery alone.
start_gw
stop_gw
echo "revocation = off" >>"$DEV/gateway.conf"
start_gw

code=$(as portal-1 -o "$T/id.xml" -w '%{http_code}' -X POST "$URL/v1/message-ids")
expect_eq "createMessageId: 200" 200 "$code"
mid=$(xpath "$T/id.xml" "string(/*)")
check "createMessageId gives a portal-1 id" grep -q '^portal-1:[0-9a-f]\{32\}$' <<<"$mid"

as portal-1 -o "$T/lk.xml" "$URL/v1/lookup?reader=authority-a&service=urn:gatewayd:service:example"
expect_eq "lookupService: authority-a reachable" true "$(xpath "$T/lk.xml" "string(/*/@reachable)")"
as portal-1 -o "$T/lk2.xml" "$URL/v1/lookup?reader=authority-z&service=urn:gatewayd:service:example"
expect_eq "lookupService: unknown authority not reachable" false "$(xpath "$T/lk2.xml" "string(/*/@reachable)")"
as authority-a -o "$T/acc.xml" "$URL/v1/account"
expect_eq "checkAccountActive" "authority true" \
	"$(xpath "$T/acc.xml" "string(/*/@kind)") $(xpath "$T/acc.xml" "string(/*/@active)")"

# get-next-message gives the oldest waiting one.
make_signed "$T/a.xml" --id "$mid"
expect_eq "submit with the created id" 202 "$(post_xml portal-1 "$T/a.xml" "$T/ra.xml")"
id=$(xpath "$T/ra.xml" "string(//*[local-name()='MessageID'])")
hdr=$(as authority-a -D - -o "$T/next.xml" "$URL/v1/mailbox/next")
check "get-next-message answers with that message" grep -qi "^Location: /v1/mailbox/$id" <<<"$hdr"
"$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/next.xml" >"$T/next-plain.xml"
check "get-next-message content is the submission" cmp -s "$T/a.xml" "$T/next-plain.xml"
as portal-1 -o "$T/rep.xml" "$URL/v1/submissions/$id/report"
expect_eq "report while waiting: open (0)" 0 "$(xpath "$T/rep.xml" "string(//*[local-name()='Status'])")"
as authority-a -o /dev/null -X POST "$URL/v1/mailbox/$id/close"
as portal-1 -o "$T/rep.xml" "$URL/v1/submissions/$id/report"
expect_eq "report after close: green (1)" 1 "$(xpath "$T/rep.xml" "string(//*[local-name()='Status'])")"
check "report is signed by the gateway" xmlsec1 --verify --trusted-pem "$DEV/ca.pem" "$T/rep.xml"
code=$(as authority-a -o "$T/e.xml" -w '%{http_code}' "$URL/v1/mailbox/next")
expect_eq "empty mailbox: get-next-message 404" 404 "$code"

# ObsoleteAfter in the past: the message expires instead of waiting forever.
"$GWCTL" sample --to authority-a >"$T/u.xml"
sed 's|<MessageMetaData>|<MessageMetaData><DeliveryAttributes><ObsoleteAfter>2000-01-01T00:00:00Z</ObsoleteAfter></DeliveryAttributes>|' \
	"$T/u.xml" >"$T/u2.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/u2.xml" >"$T/old.xml"
expect_eq "a message with ObsoleteAfter is accepted" 202 "$(post_xml portal-1 "$T/old.xml" "$T/ro.xml")"
oid=$(xpath "$T/ro.xml" "string(//*[local-name()='MessageID'])")
st=""
for _ in $(seq 1 50); do
	as portal-1 -o "$T/card.xml" "$URL/v1/submissions/$oid"
	st=$(xpath "$T/card.xml" "string(//*[local-name()='Reader']/@state)")
	[ "$st" = expired ] && break
	sleep 0.2
done
expect_eq "past ObsoleteAfter: expired" expired "$st"
as portal-1 -o "$T/rep.xml" "$URL/v1/submissions/$oid/report"
expect_eq "expired message: report red (3)" 3 "$(xpath "$T/rep.xml" "string(//*[local-name()='Status'])")"
expect_eq "audit: delivery.expired" 1 "$(audit_count delivery.expired)"
sed 's|<ObsoleteAfter>2000-01-01T00:00:00Z|<ObsoleteAfter>2000-01-01T00:00:00|' "$T/u2.xml" >"$T/u3.xml"
"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" "$T/u3.xml" >"$T/notz.xml"
expect_eq "ObsoleteAfter without a time zone: 400" 400 "$(post_xml portal-1 "$T/notz.xml" "$T/rz.xml")"
