#!/usr/bin/env node
// encrypt.js CERT.pem FILE
//
// Encrypts the bytes of FILE for the certificate in CERT.pem with the
// independent XML-Enc implementation xml-encryption (npm, pinned in
// package-lock.json) and prints the xenc:EncryptedData to stdout: content
// aes256-gcm, key transport xenc11#rsa-oaep with MGF1-SHA-256 and a SHA-256
// digest.  xml-encryption writes a 12-byte IV and, being W3C XML-Enc 1.1,
// no osci128:IvLength element.  Exit status 0 on success; otherwise 1 and a
// message on stderr.  Used by tests/unit/test_xmlenc.c.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const xmlenc = require('xml-encryption');

function fail(msg) {
  process.stderr.write('encrypt.js: ' + msg + '\n');
  process.exitCode = 1;
}

function main(argv) {
  if (argv.length !== 2) return fail('usage: node encrypt.js CERT.pem FILE');
  const certPem = fs.readFileSync(argv[0], 'utf8');
  const data = fs.readFileSync(argv[1]);	// a Buffer: encrypted byte for byte
  const cert = new crypto.X509Certificate(certPem);
  const options = {
    rsa_pub: cert.publicKey.export({ type: 'spki', format: 'pem' }),
    pem: cert.toString(),
    encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
    keyEncryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
    keyEncryptionDigest: 'sha256',
    keyEncryptionMgf: 'http://www.w3.org/2009/xmlenc11#mgf1sha256',
    disallowEncryptionWithInsecureAlgorithm: true,
    warnInsecureAlgorithm: false,
  };
  xmlenc.encrypt(data, options, (err, xml) => {
    if (err) return fail(err.message || String(err));
    process.stdout.write(xml);
    return undefined;
  });
  return undefined;
}

try {
  main(process.argv.slice(2));
} catch (e) {
  fail(e && e.message ? e.message : String(e));
}
