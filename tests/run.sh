#!/bin/sh
# run.sh BUILD - runs every suite against the binaries in BUILD (the
# sanitizer build under `make test`) and ends with one line
# "N passed, N failed[, N skipped]" over all of them.
#   unit: BUILD/tests/test_* (cmocka), one count per test case
#   e2e:  tests/e2e/[0-9]*.sh, one count per "PASS:"/"FAIL:" line
set -u
BUILD=${1:-build/san}
cd "$(dirname "$0")/.." || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0 fail=0 skip=0 broken=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { grep -c "$1" "$log" || true; }
# cmocka names a failed or skipped test twice (as it runs, and in the
# summary): count names once.
count_names() { grep "$1" "$log" | sort -u | wc -l; }

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	"$t" >"$log" 2>&1
	rc=$?
	p=$(count '^\[       OK \]')
	f=$(count_names '^\[  FAILED  \] [A-Za-z_]')
	s=$(count_names '^\[  SKIPPED \] [A-Za-z_]')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or a sanitizer stopped it
	fi
	echo "unit  $name: $p passed, $f failed, $s skipped"
	if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
		sed 's/^/    /' "$log" | tail -n 60
		broken="$broken $name"
	fi
	grep '^\[  SKIPPED \] [A-Za-z_]' "$log" | sort -u | sed 's/^/    /'
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done

# One development PKI for all scenarios: RSA key generation under ASan is
# slow, and every scenario would otherwise make its own.
GW_E2E_PKI=$(mktemp -d /tmp/gw-pki.XXXXXX)
export GW_E2E_PKI
trap 'rm -f "$log"; rm -rf "$GW_E2E_PKI"' EXIT
"$BUILD/gwctl" pki init "$GW_E2E_PKI" >/dev/null 2>&1 ||
	echo "run.sh: gwctl pki init failed; scenarios make their own PKI"

for t in tests/e2e/[0-9]*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	GW_BUILD="$BUILD" bash "$t" >"$log" 2>&1
	rc=$?
	p=$(count '^PASS: ')
	f=$(count '^FAIL: ')
	s=$(count '^SKIP: ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	echo "e2e   $name: $p passed, $f failed, $s skipped"
	if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
		sed 's/^/    /' "$log" | tail -n 80
		broken="$broken $name"
	fi
	grep '^SKIP: ' "$log" | sed 's/^/    /'
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done

[ -n "$broken" ] && echo "failing suites:$broken"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
