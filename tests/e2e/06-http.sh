#!/bin/bash
# The HTTP layer: protocol errors get the XML error body and an audit entry
# too, chunked bodies work and are bounded, connections are reused, and a
# client that stops half-way does not hold up anyone else.
. "$(dirname "$0")/lib.sh"
start_gw

# raw WHO: sends stdin over TLS as WHO, prints the answer (the server closes
# after an error; timeout ends the rest).
raw() {
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$DEV/ca.pem" \
		-cert "$DEV/$1.pem" -key "$DEV/$1.key" 2>/dev/null
}
status_of() { head -n1 "$1" | cut -d' ' -f2; }
code_of() { sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' "$1" | head -n1; }

{ printf 'HELLO THERE\r\n\r\n'; sleep 1; } | raw portal-1 >"$T/a.txt"
expect_eq "garbage request line: 400" 400 "$(status_of "$T/a.txt")"
expect_eq "garbage request line: XML code" INVALID_REQUEST "$(code_of "$T/a.txt")"

{ printf 'POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'; sleep 1; } |
	raw portal-1 >"$T/b.txt"
expect_eq "Content-Length with Transfer-Encoding (smuggling): 400" 400 "$(status_of "$T/b.txt")"

{ printf 'PUT /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'; sleep 1; } |
	raw portal-1 >"$T/c.txt"
expect_eq "PUT: 405" 405 "$(status_of "$T/c.txt")"
expect_eq "PUT: XML code" METHOD_NOT_ALLOWED "$(code_of "$T/c.txt")"

{ printf 'GET /v1/mailbox HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$(head -c 20000 /dev/zero | tr '\0' 'x')"; sleep 1; } |
	raw authority-a >"$T/d.txt"
expect_eq "20 KB of headers: 413" 413 "$(status_of "$T/d.txt")"

make_signed "$T/signed.xml"
code=$(as portal-1 -o "$T/r.xml" -w '%{http_code}' -H 'Content-Type: application/xml' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$T/signed.xml" "$URL/v1/submissions")
expect_eq "chunked submission: 202" 202 "$code"

head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big.xml"
code=$(as portal-1 -o "$T/e.xml" -w '%{http_code}' -H 'Content-Type: application/xml' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$T/big.xml" "$URL/v1/submissions")
expect_eq "17 MiB chunked body: 413" 413 "$code"
expect_eq "17 MiB chunked body: XML code" TOO_LARGE "$(xpath "$T/e.xml" "string(/Error/Code)")"

# A client that sends half a request and stalls...
{ printf 'POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n<a>'; sleep 8; } |
	raw portal-1 >/dev/null &
stall=$!
sleep 0.5
# ...does not hold up a complete one.
make_signed "$T/s2.xml"
expect_eq "a stalled client does not block others" 202 "$(post_xml portal-1 "$T/s2.xml" "$T/r2.xml")"
kill "$stall" 2>/dev/null; wait "$stall" 2>/dev/null

n=$(as authority-a -o /dev/null -o /dev/null -w '%{num_connects} ' "$URL/v1/mailbox" "$URL/v1/mailbox")
expect_eq "two requests reuse one connection (keep-alive)" "1 0 " "$n"

expect_eq "audit: protocol errors recorded" 4 \
	"$(sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='request.rejected' AND code IN ('INVALID_REQUEST','TOO_LARGE');")"
