#!/bin/bash
# gwctl profiles check DIR: a good configuration passes (exit 0, also when
# only its profiles directory is given); broken ones list every problem,
# one sentence each naming file and line (exit 1); a certificate that
# expires in 10 days is a warning that does not fail the check (exit 0).
. "$(dirname "$0")/lib.sh"
prepare_dev
[ -f "$DEV/ca.pem" ] || "$GWCTL" pki init "$DEV" >/dev/null

# Certificates the development PKI does not have, made with openssl.
# newcert NAME DAYS KEY [EXTRA openssl req ARGS...]
newcert() {
	local name=$1 days=$2 key=$3; shift 3
	openssl req -x509 -newkey "$key" -nodes -days "$days" -subj "/CN=$name" \
		-keyout "$T/$name.key" -out "$T/$name.pem" "$@" 2>/dev/null
}
newcert enc-next 400 rsa:3072 -addext keyUsage=keyEncipherment
newcert soon 10 rsa:3072
newcert weak 365 rsa:2048
newcert signonly 365 rsa:3072 -addext keyUsage=digitalSignature
# An expired certificate: openssl ca takes explicit dates.
mkdir -p "$T/ca/new"; touch "$T/ca/index.txt"; echo 1000 >"$T/ca/serial"
cat >"$T/ca/ca.cnf" <<X
[ ca ]
default_ca = d
[ d ]
database = $T/ca/index.txt
serial = $T/ca/serial
new_certs_dir = $T/ca/new
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
X
openssl req -new -newkey rsa:3072 -nodes -subj /CN=old -keyout "$T/old.key" \
	-out "$T/old.csr" 2>/dev/null
openssl ca -batch -config "$T/ca/ca.cnf" -cert "$DEV/ca.pem" -keyfile "$DEV/ca.key" \
	-startdate 20240101000000Z -enddate 20250101000000Z -notext \
	-in "$T/old.csr" -out "$T/old.pem" >/dev/null 2>&1
check "test set-up: an expired certificate" test -s "$T/old.pem"

# The SPKI pin of authority-b's certificate, as CURLOPT_PINNEDPUBLICKEY takes it.
PIN="sha256//$(openssl x509 -in "$DEV/authority-b.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"

# A good configuration: a portal with signer_ca, a pull authority and a
# push authority with two encryption certificates (a key rollover).
G="$T/good"
mkdir -p "$G/profiles"
cp "$DEV"/*.pem "$DEV"/*.key "$T/enc-next.pem" "$T/soon.pem" "$T/weak.pem" \
	"$T/signonly.pem" "$T/old.pem" "$G/"
cat >"$G/gateway.conf" <<X
tls_cert = gateway.pem
tls_key = gateway.key
client_ca = ca.pem
trust_ca = ca.pem
sign_cert = gateway.pem
sign_key = gateway.key
database = gateway.db
profiles_dir = profiles
max_submission = 8G
X
cat >"$G/profiles/portal-1.conf" <<X
id = portal-1
kind = portal
tls_cert = ../portal-1.pem
readers = authority-a, authority-b
services = urn:x:bau
signer_ca = ../ca.pem
signer_eku = clientAuth
X
cat >"$G/profiles/authority-a.conf" <<X
id = authority-a
kind = authority
tls_cert = ../authority-a.pem
encryption_cert = ../authority-a.pem
services = urn:x:bau, urn:x:wohngeld
X
cat >"$G/profiles/authority-b.conf" <<X
id = authority-b
kind = authority
scheme = xta
tls_cert = ../authority-b.pem
delivery = push
endpoint = https://127.0.0.1:9443/in
endpoint_pin = $PIN
receipt_cert = ../authority-b.pem
encryption_cert = ../authority-b.pem, ../enc-next.pem
X

out=$("$GWCTL" profiles check "$G"); rc=$?
expect_eq "good directory: exit 0" 0 "$rc"
expect_eq "good directory: summary" "0 errors, 0 warnings" "$out"
out=$("$GWCTL" profiles check "$G/profiles"); rc=$?
expect_eq "profiles directory alone: exit 0" 0 "$rc"
expect_eq "profiles directory alone: summary" "0 errors, 0 warnings" "$out"
out=$("$GWCTL" profiles check "$G/gateway.conf"); rc=$?
expect_eq "gateway file named: exit 0" 0 "$rc"

# A certificate expiring in 10 days: a warning with its date, still exit 0.
W="$T/warn"
cp -r "$G" "$W"
sed -i 's#^encryption_cert = .*#encryption_cert = ../soon.pem#' "$W/profiles/authority-a.conf"
"$GWCTL" profiles check "$W" >"$T/warn.out"; rc=$?
expect_eq "certificate expiring in 10 days: exit 0" 0 "$rc"
check "certificate expiring in 10 days: the warning, with the date" \
	grep -qE "^warning: $W/profiles/authority-a\.conf:4: encryption_cert $W/profiles/\.\./soon\.pem expires on [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC, in 10 days\.$" "$T/warn.out"
expect_eq "certificate expiring in 10 days: summary" "0 errors, 1 warning" "$(tail -n 1 "$T/warn.out")"

# A broken directory: every problem, one sentence each, then the count.
B="$T/broken"
cp -r "$G" "$B"
echo "listn = 127.0.0.1:1" >>"$B/gateway.conf"                       # line 10
sed -i 's#^encryption_cert = .*#encryption_cert = ../old.pem#' "$B/profiles/authority-a.conf"
sed -i 's#^encryption_cert = .*#encryption_cert = ../weak.pem, ../signonly.pem#' "$B/profiles/authority-b.conf"
sed -i '/^endpoint/d' "$B/profiles/authority-b.conf"
cat >>"$B/profiles/portal-1.conf" <<X
revocation = sometimes
X
sed -i 's#^readers = .*#readers = authority-a, authority-z#; s#^services = .*#services = urn:x:none#' \
	"$B/profiles/portal-1.conf"
cat >"$B/profiles/portal-2.conf" <<X
id = authority-a
kind = portal
tls_cert = ../portal-1.pem
X
cat >"$B/profiles/portal-3.conf" <<X
id = portal-3
kind = portal
tls_cert = ../nothere.pem
X
"$GWCTL" profiles check "$B" >"$T/broken.out" 2>"$T/broken.err"; rc=$?
expect_eq "broken directory: exit 1" 1 "$rc"
# has LINE: the exact line is in the report
has() { grep -qxF "$1" "$T/broken.out"; }
check "unknown key" has "error: $B/gateway.conf:10: unknown key \"listn\"."
check "expired encryption certificate" \
	has "error: $B/profiles/authority-a.conf:4: encryption_cert $B/profiles/../old.pem expired on 2025-01-01 00:00:00 UTC."
check "key too weak" \
	has "error: $B/profiles/authority-b.conf:7: encryption_cert $B/profiles/../weak.pem has a 2048-bit RSA key, which is too weak: at least 3000 bits (2048 only with allow_rsa2048 = yes)."
check "not usable for encryption (keyUsage)" \
	has "error: $B/profiles/authority-b.conf:7: encryption_cert $B/profiles/../signonly.pem does not allow keyEncipherment in its keyUsage, so it cannot be used for encryption."
check "push without an endpoint" \
	has "error: $B/profiles/authority-b.conf: delivery = push needs endpoint."
check "push without endpoint trust" \
	has "error: $B/profiles/authority-b.conf: delivery = push needs endpoint_ca or endpoint_pin."
check "bad portal revocation" \
	has "error: $B/profiles/portal-1.conf:8: revocation must be require, prefer or off, not \"sometimes\"."
check "unknown reader" \
	has "error: $B/profiles/portal-1.conf:4: readers names \"authority-z\", which is not a configured authority."
check "unknown service" \
	has "error: $B/profiles/portal-1.conf:5: unknown service \"urn:x:none\": no authority this portal may submit to accepts it."
check "duplicate id" \
	has "error: $B/profiles/portal-2.conf:1: the id \"authority-a\" is already used by $B/profiles/authority-a.conf."
check "duplicate TLS certificate" \
	has "error: $B/profiles/portal-2.conf:3: tls_cert is the same certificate as that of \"portal-1\" ($B/profiles/portal-1.conf); each party needs its own."
check "missing file" \
	has "error: $B/profiles/portal-3.conf:3: tls_cert names $B/profiles/../nothere.pem, which cannot be read: No such file or directory."
expect_eq "broken directory: summary" "12 errors, 0 warnings" "$(tail -n 1 "$T/broken.out")"
check "broken directory: one line on stderr" \
	grep -qxF "gwctl: profiles check: $B has 12 errors" "$T/broken.err"

# The daemon refuses the same directory with its first problem.
"$GATEWAYD" --config "$B/gateway.conf" >"$T/gw-broken.out" 2>&1; rc=$?
check "gatewayd refuses the broken configuration" test "$rc" -ne 0
check "gatewayd names the first problem" grep -qF "$B/gateway.conf:10: unknown key \"listn\"." "$T/gw-broken.out"

# Usage errors: exit 2.
"$GWCTL" profiles check >/dev/null 2>&1; rc=$?
expect_eq "no DIR: exit 2" 2 "$rc"
"$GWCTL" profiles frobnicate "$G" >/dev/null 2>&1; rc=$?
expect_eq "unknown subcommand: exit 2" 2 "$rc"
"$GWCTL" profiles check "$T/nowhere" >"$T/nowhere.out" 2>/dev/null; rc=$?
expect_eq "missing DIR: exit 1" 1 "$rc"
check "missing DIR: the sentence" grep -qF "error: $T/nowhere: cannot be read: No such file or directory." "$T/nowhere.out"
