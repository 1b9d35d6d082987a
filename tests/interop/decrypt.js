#!/usr/bin/env node
// decrypt.js KEY.pem FILE
//
// Decrypts the first xenc:EncryptedData anywhere in FILE (a bare
// EncryptedData, a SOAP envelope, ...) with the independent XML-Enc
// implementation xml-encryption (npm, pinned in package-lock.json) and writes
// the plaintext bytes to stdout.  Exit status 0 on success; otherwise 1 and a
// message on stderr.  Used by tests/unit/test_xmlenc.c.
//
// What this adds to xml-encryption, and why:
// - Finding the element: xml-encryption looks for EncryptedData only by
//   local name from the document root; we hand it the xenc:EncryptedData
//   element itself.
// - Choosing the recipient: xml-encryption 6 always unwraps the first
//   KeyInfo/EncryptedKey.  For a message to several readers we pass it a
//   copy of the EncryptedData holding only one EncryptedKey: the one whose
//   X509Certificate carries our public key, else each in turn.  The bytes
//   of every element it reads are left as they are.
// - Output: xml-encryption returns the plaintext decoded as UTF-8 (a JS
//   string), so bytes that are not UTF-8 cannot come back exactly.  Rather
//   than print altered bytes we fail when the result holds U+FFFD.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const { DOMParser } = require('@xmldom/xmldom');
const xmlenc = require('xml-encryption');

const NS_XENC = 'http://www.w3.org/2001/04/xmlenc#';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';

function fail(msg) {
  process.stderr.write('decrypt.js: ' + msg + '\n');
  process.exitCode = 1;
}

function elementChildren(node, ns, name) {
  const out = [];
  for (let n = node ? node.firstChild : null; n; n = n.nextSibling) {
    if (n.nodeType === 1 && n.namespaceURI === ns && n.localName === name) out.push(n);
  }
  return out;
}

function firstDescendant(node, ns, name) {
  for (let n = node.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    if (n.namespaceURI === ns && n.localName === name) return n;
    const found = firstDescendant(n, ns, name);
    if (found) return found;
  }
  return null;
}

// Whether one of the EncryptedKey's X509Certificates holds publicKey.
function namesKey(encryptedKey, publicKey) {
  for (const ki of elementChildren(encryptedKey, NS_DS, 'KeyInfo')) {
    for (const xd of elementChildren(ki, NS_DS, 'X509Data')) {
      for (const xc of elementChildren(xd, NS_DS, 'X509Certificate')) {
        try {
          const cert = new crypto.X509Certificate(Buffer.from(xc.textContent, 'base64'));
          if (cert.publicKey.equals(publicKey)) return true;
        } catch (e) {
          // not a certificate: does not name us
        }
      }
    }
  }
  return false;
}

// The EncryptedData with only the index-th EncryptedKey left in its KeyInfo.
function withOnlyKey(encData, index) {
  const copy = encData.cloneNode(true);
  const keyInfo = elementChildren(copy, NS_DS, 'KeyInfo')[0];
  elementChildren(keyInfo, NS_XENC, 'EncryptedKey').forEach((ek, i) => {
    if (i !== index) keyInfo.removeChild(ek);
  });
  return copy;
}

function decryptOne(encData, keyPem) {
  return new Promise((resolve, reject) => {
    xmlenc.decrypt(encData, { key: keyPem, warnInsecureAlgorithm: false }, (err, text) => {
      if (err) reject(err);
      else if (typeof text !== 'string') reject(new Error('xml-encryption returned no result'));
      else resolve(text);
    });
  });
}

async function main(argv) {
  if (argv.length !== 2) return fail('usage: node decrypt.js KEY.pem FILE');
  const keyPem = fs.readFileSync(argv[0]);
  const xml = fs.readFileSync(argv[1], 'utf8');
  const parseErrors = [];
  const doc = new DOMParser({
    errorHandler: {
      warning: () => {},
      error: (m) => parseErrors.push(m),
      fatalError: (m) => parseErrors.push(m),
    },
  }).parseFromString(xml, 'text/xml');
  if (parseErrors.length) return fail('not well-formed XML: ' + parseErrors[0]);
  if (!doc || !doc.documentElement) return fail('no document element');
  const root = doc.documentElement;
  const encData = root.namespaceURI === NS_XENC && root.localName === 'EncryptedData'
    ? root : firstDescendant(root, NS_XENC, 'EncryptedData');
  if (!encData) return fail('no xenc:EncryptedData in ' + argv[1]);

  const keyInfo = elementChildren(encData, NS_DS, 'KeyInfo')[0];
  const keys = elementChildren(keyInfo, NS_XENC, 'EncryptedKey');
  if (keys.length === 0) return fail('no ds:KeyInfo/xenc:EncryptedKey');
  const publicKey = crypto.createPublicKey(keyPem);
  let order = keys.map((ek, i) => i).filter((i) => namesKey(keys[i], publicKey));
  if (order.length === 0) order = keys.map((ek, i) => i);

  const errors = [];
  for (const i of order) {
    let text;
    try {
      text = await decryptOne(keys.length === 1 ? encData : withOnlyKey(encData, i), keyPem);
    } catch (e) {
      errors.push('EncryptedKey #' + (i + 1) + ': ' + (e && e.message ? e.message : e));
      continue;
    }
    if (text.includes('\uFFFD')) {
      return fail('plaintext is not UTF-8 (or holds U+FFFD): xml-encryption 6 ' +
        'returns it decoded as UTF-8, so it cannot be written byte-exact');
    }
    process.stdout.write(Buffer.from(text, 'utf8'));
    return undefined;
  }
  return fail('decryption failed: ' + errors.join('; '));
}

main(process.argv.slice(2)).catch((e) => fail(e && e.message ? e.message : String(e)));
