#!/bin/sh
# decrypt.sh KEY.pem CERT.pem FILE OUT
# decrypt.sh --check
#
# Decrypts the first xenc:EncryptedData in FILE (a bare EncryptedData
# document or one inside a SOAP envelope; Type Element or no Type) with
# Apache Santuario, the second independent XML-Enc implementation of the
# interop tests (Debian's libxml-security-java 2.1.7 on OpenJDK 17), using
# the EncryptedKey whose X509Certificate / X509IssuerSerial names CERT.pem,
# and writes the exact plaintext bytes to OUT.  Exit status 0 on success,
# otherwise 1 and a message on stderr.  See Decrypt.java for what is
# Santuario's and what is ours.
#
# --check: only checks that java, javac and the jars are there and compiles
# Decrypt.java; exit 0 when decrypting can work, else 1 and the reason (the
# tests skip with it).
#
# Decrypt.java is compiled once into a cache directory:
# $SANTUARIO_CACHE if set, else build/santuario/ in the repository, else
# (not writable) $TMPDIR/gatewayd-santuario-UID/; one subdirectory per
# (Decrypt.java, javac, jars) so an edit or a package upgrade recompiles.
# KEY.pem: PEM PKCS#8 is used as it is; another PEM form (BEGIN RSA PRIVATE
# KEY, BEGIN EC PRIVATE KEY) is converted with `openssl pkcs8 -topk8
# -nocrypt` into a temporary file (mode 0600, removed on exit).
# Needs (tools/deps.sh installs them): openjdk-17-jdk-headless,
# libxml-security-java (pulls libcommons-codec-java, libslf4j-java).
set -u

me=santuario/decrypt.sh
die() { echo "$me: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd) || die "cannot find my directory"
root=$(cd "$here/../../.." && pwd) || die "cannot find the repository"
src=$here/Decrypt.java
jdir=${SANTUARIO_JAVA_DIR:-/usr/share/java}
# xmlsec.jar is Santuario; it logs through slf4j (slf4j-nop: no "no
# binding" warning on stderr) and uses commons-codec.
jars="xmlsec.jar commons-codec.jar slf4j-api.jar slf4j-nop.jar"

command -v java >/dev/null 2>&1 || die "java not found (apt-get install openjdk-17-jdk-headless, or make deps)"
command -v javac >/dev/null 2>&1 || die "javac not found (apt-get install openjdk-17-jdk-headless, or make deps)"
cp=""
for j in $jars; do
	[ -r "$jdir/$j" ] || die "$jdir/$j missing (apt-get install libxml-security-java, or make deps)"
	cp=${cp:+$cp:}$jdir/$j
done
[ -r "$src" ] || die "$src missing"

# ---- compile once ----
stamp=$( {
	cat "$src"
	readlink -f "$(command -v javac)"
	for j in $jars; do ls -lL --time-style=+%s "$jdir/$j"; done
} | sha256sum | cut -c1-16) || die "cannot hash the sources"

cachebase() {
	if [ -n "${SANTUARIO_CACHE:-}" ]; then
		mkdir -p "$SANTUARIO_CACHE" 2>/dev/null && echo "$SANTUARIO_CACHE"
		return
	fi
	if mkdir -p "$root/build/santuario" 2>/dev/null &&
	    [ -w "$root/build/santuario" ]; then
		echo "$root/build/santuario"
		return
	fi
	# A shared /tmp: ours alone (owner us, no one else may write), or not used.
	d=${TMPDIR:-/tmp}/gatewayd-santuario-$(id -u)
	mkdir -m 700 "$d" 2>/dev/null
	[ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] &&
	    [ -z "$(find "$d" -maxdepth 0 -perm /022)" ] && echo "$d"
}
base=$(cachebase) || true
[ -n "$base" ] || die "no usable cache directory (set SANTUARIO_CACHE)"
classes=$base/$stamp
if [ ! -f "$classes/Decrypt.class" ]; then
	tmp=$(mktemp -d "$base/tmp.XXXXXX") || die "cannot create a directory in $base"
	# -Xlint:-path: commons-codec.jar's manifest names a jar Debian lacks.
	if ! javac -nowarn -Xlint:-path -encoding UTF-8 -cp "$cp" -d "$tmp" "$src" >"$tmp/javac.log" 2>&1; then
		cat "$tmp/javac.log" >&2
		rm -rf "$tmp"
		die "javac failed"
	fi
	rm -f "$tmp/javac.log"
	# Atomic: a concurrent run either finds the complete directory or
	# renames its own; the loser removes its copy.
	mv -T "$tmp" "$classes" 2>/dev/null || rm -rf "$tmp"
	[ -f "$classes/Decrypt.class" ] || die "compiled classes missing in $classes"
fi

if [ "$#" -eq 1 ] && [ "$1" = "--check" ]; then
	exit 0
fi
[ "$#" -eq 4 ] || die "usage: decrypt.sh KEY.pem CERT.pem FILE OUT | decrypt.sh --check"
key=$1 cert=$2 file=$3 out=$4
[ -r "$key" ] || die "$key: cannot read"

# ---- the key as PEM PKCS#8 ----
keytmp=""
trap '[ -n "$keytmp" ] && rm -f "$keytmp"' EXIT
trap 'exit 1' HUP INT TERM
if ! grep -q -- "-----BEGIN PRIVATE KEY-----" "$key"; then
	command -v openssl >/dev/null 2>&1 || die "$key is not PEM PKCS#8 and openssl is missing"
	keytmp=$(umask 077 && mktemp "${TMPDIR:-/tmp}/santuario-key.XXXXXX") ||
	    die "cannot create a temporary file"
	openssl pkcs8 -topk8 -nocrypt -in "$key" -out "$keytmp" -passin pass: 2>/dev/null ||
	    die "$key: openssl cannot convert it to PKCS#8 (not a private key, or encrypted)"
	key=$keytmp
fi

# Short-lived: the C1 compiler only, class data sharing on.
java -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$classes:$cp" Decrypt \
    "$key" "$cert" "$file" "$out"
rc=$?
[ "$rc" -eq 0 ] || exit 1
exit 0
