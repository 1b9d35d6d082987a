#!/bin/sh
# deps.sh - installs the Debian 12 packages gatewayd builds and tests with,
# only those that are missing.  Needs root (or nothing missing).
set -eu
PKGS="build-essential pkg-config libssl-dev openssl libxml2-dev libxml2-utils \
libxmlsec1-dev libxmlsec1-openssl xmlsec1 libcurl4-openssl-dev curl \
libevent-dev libsqlite3-dev sqlite3 libcmocka-dev procps python3 \
libxml-security-java libcommons-codec-java libslf4j-java"
# libxml-security-java and the two after it: Apache Santuario 2.1.7, the
# second independent XML-Enc implementation of the interop tests
# (tests/interop/santuario/decrypt.sh puts /usr/share/java/xmlsec.jar,
# commons-codec.jar, slf4j-api.jar and slf4j-nop.jar on the class path).
# Unlike npm xml-encryption it returns the plaintext as bytes, so binary
# attachments are checked exactly.  About 8 MB to download (with woodstox,
# stax2, msv, xerces2, ant: libxml-security-java's Depends); Recommends are
# not needed (OpenJDK has its own XML parser and XSLT).
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
# Node.js may come from elsewhere (with its own npm): ask for the commands,
# and take Debian's packages only when they are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# Santuario runs on Java and decrypt.sh compiles its Decrypt.java once, so
# a JDK: java and javac may come from elsewhere, else Debian's OpenJDK 17
# (headless; about 115 MB to download with its JRE; what the tests ran on).
if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
	missing="$missing openjdk-17-jdk-headless"
fi
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages and not root; run: sudo apt-get install$missing" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
# The independent XML-Enc implementation for the interop tests (npm, pinned
# by tests/interop/package-lock.json).
if [ ! -d tests/interop/node_modules/xml-encryption ]; then
	echo "deps: npm ci in tests/interop"
	(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
