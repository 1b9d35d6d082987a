#!/bin/bash
# Configuration reload (SIGHUP, gwctl reload) on a gateway started with
# --config: a new authority profile is served after the reload; a broken
# profile and a changed listen address are refused with one sentence and
# the old configuration keeps serving; a request whose upload is under way
# during a reload finishes with the configuration it started with; every
# outcome is in the audit log, which still verifies.
. "$(dirname "$0")/lib.sh"

# start_gw --dev once creates the PKI, gateway.conf and the profiles.
start_gw
stop_gw
sed -i "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$DEV/gateway.conf"

start_cfg() {
	"$GATEWAYD" --config "$DEV/gateway.conf" >>"$T/gw.log" 2>&1 &
	GWPID=$!
	for _ in $(seq 1 300); do
		curl -s --cacert "$DEV/ca.pem" -o /dev/null "$URL/healthz" && return 0
		kill -0 "$GWPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: gatewayd --config did not start"; cat "$T/gw.log"; exit 1
}

# status_gen: the generation in reload.status (0 at start).
status_gen() { sed -n 's/^generation //p' "$DEV/reload.status" 2>/dev/null; }

# signed_to AUTHORITY ID OUT: a signed submission from portal-1.
signed_to() {
	"$GWCTL" sample --to "$1" --id "$2" >"$T/unsigned.xml" &&
	"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" \
		"$T/unsigned.xml" >"$3"
}

# A third authority with its own key and certificate from the dev CA.
openssl req -new -newkey rsa:3072 -nodes -keyout "$DEV/authority-c.key" \
	-subj "/CN=authority-c" -out "$T/c.csr" 2>/dev/null
openssl x509 -req -in "$T/c.csr" -CA "$DEV/ca.pem" -CAkey "$DEV/ca.key" \
	-CAcreateserial -days 400 -out "$DEV/authority-c.pem" 2>/dev/null
profile_c() {
	cat >"$DEV/profiles/authority-c.conf" <<X
id = authority-c
kind = authority
tls_cert = ../authority-c.pem
encryption_cert = ../authority-c.pem
X
}

start_cfg
expect_eq "pid file names the daemon" "$GWPID" "$(cat "$DEV/gatewayd.pid" 2>/dev/null)"
expect_eq "reload status at start: generation 0" 0 "$(status_gen)"

# 1. A new authority profile, then SIGHUP.
signed_to authority-c rl-1 "$T/s1.xml"
expect_eq "before the reload: authority-c unknown (422)" 422 "$(post_xml portal-1 "$T/s1.xml" "$T/r1.xml")"
expect_eq "before the reload: code" UNKNOWN_READER "$(xpath "$T/r1.xml" "string(/Error/Code)")"
profile_c
kill -HUP "$GWPID"
for _ in $(seq 1 100); do [ "$(status_gen)" = 1 ] && break; sleep 0.1; done
expect_eq "SIGHUP: reload status generation 1" 1 "$(status_gen)"
expect_eq "SIGHUP: reload status ok" ok "$(sed -n 's/^result //p' "$DEV/reload.status")"
expect_eq "after the reload: the same submission to authority-c is accepted" 202 \
	"$(post_xml portal-1 "$T/s1.xml" "$T/r1b.xml")"

# 2. A broken profile is refused; the configuration before it keeps serving.
printf 'id = authority-x\nkind = authority\ncolour = blue\n' >"$DEV/profiles/broken.conf"
"$GWCTL" reload --dev "$DEV" >"$T/rl2.out" 2>"$T/rl2.err"
expect_eq "broken profile: gwctl reload exits 1" 1 "$?"
check "broken profile: the sentence names the file and the key" \
	grep -q 'refused: .*broken.conf:3: .*colour' "$T/rl2.err"
signed_to authority-c rl-2 "$T/s2.xml"
expect_eq "broken profile: submissions keep working (old configuration)" 202 \
	"$(post_xml portal-1 "$T/s2.xml" "$T/r2.xml")"
rm -f "$DEV/profiles/broken.conf"

# 3. listen cannot change without a restart.
NEWPORT=$((PORT + 1))
sed -i "s/^listen = .*/listen = 127.0.0.1:$NEWPORT/" "$DEV/gateway.conf"
"$GWCTL" reload --config "$DEV/gateway.conf" >"$T/rl3.out" 2>"$T/rl3.err"
expect_eq "listen changed: gwctl reload exits 1" 1 "$?"
check "listen changed: the sentence says so" grep -q \
	"refused: listen changed from 127.0.0.1:$PORT to 127.0.0.1:$NEWPORT; restart gatewayd to change it" \
	"$T/rl3.err"
check "listen changed: still serving on the old address" \
	curl -sf --cacert "$DEV/ca.pem" -o /dev/null "$URL/healthz"
sed -i "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$DEV/gateway.conf"

# 4. An upload under way during a reload that removes its reader: it was
# checked with the old configuration and finishes with it.  White space
# after the root element is not signed content, and makes the body large.
signed_to authority-c rl-4 "$T/s4.xml"
head -c 400000 /dev/zero | tr '\0' ' ' >>"$T/s4.xml"
as portal-1 -o "$T/r4.xml" -w '%{http_code}' --limit-rate 100k \
	-H 'Content-Type: application/xml' --data-binary @"$T/s4.xml" \
	"$URL/v1/submissions" >"$T/code4" &
CURLPID=$!
sleep 1.5
rm -f "$DEV/profiles/authority-c.conf"
"$GWCTL" reload --pid-file "$DEV/gatewayd.pid" >"$T/rl4.out" 2>"$T/rl4.err"
expect_eq "reload during an upload: gwctl reload exits 0" 0 "$?"
check "the upload was still under way when the reload finished" kill -0 "$CURLPID"
wait "$CURLPID"
expect_eq "the upload started before the reload is accepted" 202 "$(cat "$T/code4")"
signed_to authority-c rl-5 "$T/s5.xml"
expect_eq "a new submission to the removed authority is refused" 422 \
	"$(post_xml portal-1 "$T/s5.xml" "$T/r5.xml")"

# 5. The audit log: every outcome, the digest gwctl printed.
expect_eq "audit: two config.reloaded" 2 "$(audit_count config.reloaded OK)"
expect_eq "audit: two config.reload_refused" 2 "$(audit_count config.reload_refused CONFIG_ERROR)"
digest=$(sed -n 's/^reloaded: configuration //p' "$T/rl4.out")
check "gwctl reload printed the digest" grep -Eq '^sha256:[0-9a-f]{64}$' <<<"$digest"
expect_eq "audit: config.reloaded records that digest" "$digest" \
	"$(sqlite3 "$DEV/gateway.db" "SELECT detail FROM audit WHERE event='config.reloaded' ORDER BY seq DESC LIMIT 1;")"
stop_gw
check "the pid file is removed at a clean stop" test ! -e "$DEV/gatewayd.pid"
check "gwctl audit verify passes" "$GWCTL" audit verify --dev "$DEV"
