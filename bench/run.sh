#!/bin/sh
# run.sh BUILD - `make bench`: a development gateway (BUILD/gatewayd --dev in
# a temporary directory, on a free port of 127.0.0.1) under load from
# BUILD/loadgen as portal-1 over keep-alive mutual TLS, then a summary:
# accepted documents per second, p50/p99 latency, errors, and the gateway's
# peak RSS (VmHWM from /proc, read before it is stopped with SIGTERM).
#
# Gateway and load generator share the machine; the summary names it.
# Environment (all optional): BENCH_SECONDS (20), BENCH_CONCURRENCY (8),
# BENCH_SIZE (10240 bytes per signed document), BENCH_DOCS (documents for the
# timed run; default: loadgen sizes the pool from its warm-up), BENCH_PORT
# (default: a random free one), BENCH_KEEP=1 keeps the directory.
# Exit status: loadgen's (0 all accepted, 3 some not), 1 if the gateway
# could not be run.
set -u
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-20}
CONC=${BENCH_CONCURRENCY:-8}
SIZE=${BENCH_SIZE:-10240}
cd "$(dirname "$0")/.." || exit 1

for b in gatewayd loadgen; do
	if [ ! -x "$BUILD/$b" ]; then
		echo "bench: $BUILD/$b is missing; run make bench" >&2
		exit 1
	fi
done
command -v curl >/dev/null || { echo "bench: needs curl" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench.XXXXXX") || exit 1
pid=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

random_port() {
	echo $(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
}

# Starts the gateway on $port; 0 once /healthz answers 200, 2 if the port
# was taken, 1 on any other failure.  The first start creates the PKI
# (RSA-3072 keys), which takes a few seconds.
start_gateway() {
	"$BUILD/gatewayd" --dev "$dir/dev" --listen "127.0.0.1:$port" \
		>"$dir/gatewayd.log" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 600 ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			pid=""
			grep -qi "in use" "$dir/gatewayd.log" && return 2
			return 1
		fi
		if [ -f "$dir/dev/ca.pem" ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
				--cacert "$dir/dev/ca.pem" "https://127.0.0.1:$port/healthz")
			[ "$code" = 200 ] && return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# A port nobody listens on (curl: 7 = connection refused).  The gateway
# binds with SO_REUSEPORT, so a busy port would not always fail its start.
free_port() {
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null
	[ $? = 7 ]
}

tries=0
while :; do
	port=${BENCH_PORT:-$(random_port)}
	if [ -z "${BENCH_PORT:-}" ] && ! free_port "$port"; then
		tries=$((tries + 1))
		[ $tries -lt 20 ] && continue
	fi
	start_gateway
	rc=$?
	[ $rc = 0 ] && break
	tries=$((tries + 1))
	if [ $rc = 2 ] && [ -z "${BENCH_PORT:-}" ] && [ $tries -lt 5 ]; then
		continue
	fi
	echo "bench: the gateway did not come up on 127.0.0.1:$port:" >&2
	sed 's/^/    /' "$dir/gatewayd.log" | tail -n 30 >&2
	exit 1
done
rss_idle=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")

set -- --url "https://127.0.0.1:$port/v1/submissions" \
	--cert "$dir/dev/portal-1.pem" --key "$dir/dev/portal-1.key" \
	--ca "$dir/dev/ca.pem" --concurrency "$CONC" --seconds "$SECS" \
	--size "$SIZE"
[ -n "${BENCH_DOCS:-}" ] && set -- "$@" --docs "$BENCH_DOCS"
echo "bench: gatewayd pid $pid on 127.0.0.1:$port; loadgen as portal-1 for $SECS s"
"$BUILD/loadgen" "$@" >"$dir/loadgen.out"
lrc=$?

status=/proc/$pid/status
if ! kill -0 "$pid" 2>/dev/null; then
	echo "bench: the gateway died during the run:" >&2
	sed 's/^/    /' "$dir/gatewayd.log" | tail -n 30 >&2
	[ $lrc = 0 ] && lrc=1
	hwm="" rss=""
else
	hwm=$(awk '/^VmHWM:/ { print $2 }' "$status")
	rss=$(awk '/^VmRSS:/ { print $2 }' "$status")
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: the gateway did not stop within 10 s of SIGTERM" >&2
	else
		wait "$pid" 2>/dev/null
		pid=""
	fi
fi

mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
field() { awk -v k="$1" 'index($0, k) == 1 { print substr($0, 16) }' "$dir/loadgen.out"; }
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
workers=$(sed -n 's/.*listening on .*(\(.*\)).*/\1/p' "$dir/gatewayd.log" | head -n 1)
keybits=$(openssl x509 -in "$dir/dev/portal-1.pem" -noout -text 2>/dev/null |
	sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' | head -n 1)

echo
echo "== gatewayd bench ($rev, $(date -u +%Y-%m-%dT%H:%MZ)) =="
echo "machine        $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr)"
echo "gateway        --dev, ${workers:-?}; gateway and loadgen on the same machine"
echo "load           portal-1, $(field concurrency)"
echo "documents      $(field 'document bytes') bytes, signed RSA-${keybits:-?} (RSA-SHA256), one reader"
echo "duration s     $(field 'duration s')"
echo "total          $(field total)"
echo "accepted       $(field 'accepted ')"
echo "accepted/s     $(field accepted/s)"
echo "p50 ms         $(field 'p50 ms')"
echo "p99 ms         $(field 'p99 ms')"
echo "errors         $(field errors)"
echo "gateway RSS    peak $(mib "$hwm") (VmHWM), $(mib "$rss") after the run, $(mib "$rss_idle") before"
n=$(field note)
[ -n "$n" ] && echo "note           $n"
exit $lrc
