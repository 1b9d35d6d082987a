#!/bin/bash
# A portal that resends the same bytes with the same MessageID (a retry after
# a lost answer) gets the original receipt; nothing is stored twice.
. "$(dirname "$0")/lib.sh"
start_gw
make_signed "$T/signed.xml"
expect_eq "first submit: 202" 202 "$(post_xml portal-1 "$T/signed.xml" "$T/r1.xml")"
hdr=$(as portal-1 -D - -o "$T/r2.xml" -H 'Content-Type: application/xml' \
	--data-binary @"$T/signed.xml" "$URL/v1/submissions")
check "second submit: 202" grep -q '^HTTP/1.1 202' <<<"$hdr"
check "second submit is marked as replay" grep -qi '^Gateway-Replay: true' <<<"$hdr"
check "the same receipt, byte for byte" cmp -s "$T/r1.xml" "$T/r2.xml"
as authority-a -o "$T/list.xml" "$URL/v1/mailbox"
expect_eq "one message in the mailbox" 1 "$(xpath "$T/list.xml" "string(/*/@count)")"
expect_eq "audit: one accepted, one replayed" "1 1" \
	"$(audit_count submission.accepted) $(audit_count submission.replayed)"
