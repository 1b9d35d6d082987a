#!/bin/bash
# A 202 means the message is on disk: kill -9 right after the answers,
# restart, and every accepted message is in the mailbox and decrypts.
. "$(dirname "$0")/lib.sh"
start_gw
ids=""
for i in 1 2 3 4 5; do
	make_signed "$T/s$i.xml" --id "crash-$i"
	code=$(post_xml portal-1 "$T/s$i.xml" "$T/r$i.xml")
	[ "$code" = 202 ] || fail "submit $i: $code"
	ids="$ids $(xpath "$T/r$i.xml" "string(//*[local-name()='MessageID'])")"
done
kill9_gw
start_gw
as authority-a -o "$T/list.xml" "$URL/v1/mailbox"
expect_eq "all 5 accepted messages survived kill -9" 5 "$(xpath "$T/list.xml" "string(/*/@count)")"
i=0
for id in $ids; do
	i=$((i + 1))
	as authority-a -o "$T/m$i.xml" "$URL/v1/mailbox/$id"
	"$GWCTL" decrypt --key "$DEV/authority-a.key" "$T/m$i.xml" >"$T/o$i.xml"
	check "message $i decrypts to the submitted bytes after restart" cmp -s "$T/s$i.xml" "$T/o$i.xml"
done
expect_eq "audit: start recorded twice" 2 "$(audit_count gateway.start)"
