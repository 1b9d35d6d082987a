# lib.sh - shared helpers for the end-to-end scenarios (sourced, bash).
#
# Each scenario starts its own gatewayd --dev on a free loopback port in a
# fresh temporary directory, talks to it over real mutual TLS with the curl
# CLI (and gwctl, xmlsec1, node where the scenario says so), prints one
# "PASS: ..." or "FAIL: ..." line per check, and exits non-zero on failure.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${GW_BUILD:-build/san}
case "$B" in /*) ;; *) B="$ROOT/$B" ;; esac
GWCTL="$B/gwctl"
GATEWAYD="$B/gatewayd"
T=$(mktemp -d /tmp/gw-e2e.XXXXXX)
DEV="$T/dev"
GWPID=""
FAILED=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
skip() { echo "SKIP: $*"; }
# check DESCRIPTION COMMAND...: PASS if the command succeeds.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
# not COMMAND...: succeeds when the command fails (for check).
not() { ! "$@"; }
# expect_eq DESCRIPTION WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (want '$2', got '$3')"; fi
}

finish() {
	stop_gw
	if [ "$FAILED" -ne 0 ] && [ -f "$T/gw.log" ]; then
		echo "--- gatewayd log (tail) ---"; tail -n 40 "$T/gw.log"
	fi
	rm -rf "$T"
	exit "$FAILED"
}
trap finish EXIT

# A port from a range that depends on the pid, so parallel runs differ.
PORT=$((20000 + ($$ % 20000)))
URL="https://127.0.0.1:$PORT"

# Copies a prepared development PKI (run.sh makes one per run) to save the
# key generation; without it gatewayd --dev creates its own.
prepare_dev() {
	mkdir -p "$DEV"
	if [ -n "${GW_E2E_PKI:-}" ] && [ -f "$GW_E2E_PKI/ca.pem" ]; then
		cp "$GW_E2E_PKI"/*.pem "$GW_E2E_PKI"/*.key "$DEV"/
		chmod 600 "$DEV"/*.key
	fi
}

start_gw() {
	local i
	[ -d "$DEV" ] || prepare_dev
	for i in 1 2 3 4 5; do
		"$GATEWAYD" --dev "$DEV" --listen "127.0.0.1:$PORT" >>"$T/gw.log" 2>&1 &
		GWPID=$!
		for _ in $(seq 1 300); do
			if curl -s --cacert "$DEV/ca.pem" -o /dev/null "$URL/healthz" 2>/dev/null; then
				return 0
			fi
			kill -0 "$GWPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$GWPID" 2>/dev/null; wait "$GWPID" 2>/dev/null
		GWPID=""
		PORT=$((PORT + 1)); URL="https://127.0.0.1:$PORT"
	done
	echo "FAIL: gatewayd did not start"; cat "$T/gw.log"; FAILED=1
	exit 1
}

stop_gw() {
	[ -n "$GWPID" ] || return 0
	kill -TERM "$GWPID" 2>/dev/null
	wait "$GWPID" 2>/dev/null
	local rc=$?
	GWPID=""
	# 143 = killed by the TERM itself; 0 = clean stop.  Anything else is a
	# crash or a sanitizer report.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
		echo "FAIL: gatewayd exited with status $rc on SIGTERM"; FAILED=1
	fi
}

kill9_gw() {
	kill -9 "$GWPID" 2>/dev/null; wait "$GWPID" 2>/dev/null; GWPID=""
}

# as WHO CURL-ARGS...: curl with WHO's client certificate.
as() {
	local who=$1; shift
	curl -sS --cacert "$DEV/ca.pem" --cert "$DEV/$who.pem" --key "$DEV/$who.key" "$@"
}

# post_xml WHO FILE OUT: POST FILE to /v1/submissions, body to OUT, prints status.
post_xml() {
	as "$1" -o "$3" -w '%{http_code}' -H 'Content-Type: application/xml' \
		--data-binary @"$2" "$URL/v1/submissions"
}

# make_signed FILE [sample options...]: a signed sample submission from portal-1.
make_signed() {
	local out=$1; shift
	"$GWCTL" sample --to authority-a "$@" >"$T/unsigned.xml" &&
	"$GWCTL" sign --key "$DEV/portal-1.key" --cert "$DEV/portal-1.pem" \
		"$T/unsigned.xml" >"$out"
}

# xpath FILE EXPR: string value of an XPath expression (xmllint).
xpath() { xmllint --xpath "$2" "$1" 2>/dev/null; }

# audit_count EVENT [CODE]: number of audit rows with that event (and code).
audit_count() {
	if [ $# -ge 2 ]; then
		sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='$1' AND code='$2';"
	else
		sqlite3 "$DEV/gateway.db" "SELECT count(*) FROM audit WHERE event='$1';"
	fi
}
