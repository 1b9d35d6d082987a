#!/usr/bin/env python3
"""verify_proof.py - checks a gatewayd inclusion proof without gatewayd's code.

    python3 tests/audit/verify_proof.py PROOF.xml GATEWAY.pem [MESSAGE-ID]

An independent implementation, from docs/audit.md and RFC 9162 only, with
the Python 3 standard library plus the openssl command line for the
signature.  It checks that

  1. the Leaf is a well-formed audit event encoding ("gatewayd-audit-v1" NUL,
     seq and time_ms as u64 big-endian, six u32-length-prefixed fields) whose
     seq is LeafIndex + 1 and whose msg_id is the MessageID (and MESSAGE-ID,
     if given);
  2. SHA-256(0x00 || Leaf) with the Path leads to RootHash at LeafIndex in a
     tree of TreeSize leaves (RFC 9162 section 2.1.3.2);
  3. the SignedText says exactly this tree_size, root and key, and the key is
     the SHA-256 of the gateway certificate's DER;
  4. the Signature over the SignedText verifies with the certificate's
     public key (openssl dgst -sha256 -verify: ECDSA or RSA PKCS#1 v1.5).

Prints "OK: ..." and exits 0 only if all of that holds; otherwise prints
"INVALID: reason" and exits 1 (2 for a usage error).
"""
import base64
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{urn:gatewayd:audit:1}"
MAGIC = b"gatewayd-audit-v1\x00"
FIELDS = ("event", "actor", "msg_id", "reader", "code", "detail")


class Bad(Exception):
    pass


def text(parent, name):
    el = parent.find(NS + name)
    if el is None or el.text is None:
        raise Bad("missing element " + name)
    return el.text.strip()


def b64(parent, name):
    try:
        return base64.b64decode(text(parent, name), validate=True)
    except ValueError:
        raise Bad(name + " is not base64")


def number(parent, name):
    v = text(parent, name)
    if not v.isdigit():
        raise Bad(name + " is not a number")
    return int(v)


def decode_leaf(leaf):
    """The audit event encoding of docs/audit.md, strictly."""
    if not leaf.startswith(MAGIC) or len(leaf) < len(MAGIC) + 16:
        raise Bad("the leaf does not start with the gatewayd-audit-v1 magic")
    off = len(MAGIC)
    seq, time_ms = struct.unpack(">QQ", leaf[off:off + 16])
    off += 16
    fields = {}
    for name in FIELDS:
        if len(leaf) - off < 4:
            raise Bad("the leaf ends inside its fields")
        (n,) = struct.unpack(">I", leaf[off:off + 4])
        off += 4
        if len(leaf) - off < n:
            raise Bad("the leaf ends inside field " + name)
        fields[name] = leaf[off:off + n].decode("utf-8", "replace")
        off += n
    if off != len(leaf):
        raise Bad("bytes after the last field of the leaf")
    return seq, time_ms, fields


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf_hash, path, root):
    """RFC 9162, 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def openssl(*args, data=None):
    return subprocess.run(("openssl",) + args, input=data, capture_output=True)


def check(proof_path, cert_path, want_id):
    root = ET.parse(proof_path).getroot()
    if root.tag != NS + "InclusionProof":
        raise Bad("not an InclusionProof")
    msg_id = text(root, "MessageID")
    index = number(root, "LeafIndex")
    size = number(root, "TreeSize")
    leaf = b64(root, "Leaf")
    path_el = root.find(NS + "Path")
    path = [base64.b64decode(h.text or "", validate=True)
            for h in (path_el if path_el is not None else [])]
    cp = root.find(NS + "Checkpoint")
    if cp is None:
        raise Bad("no Checkpoint")
    root_hash = b64(cp, "RootHash")
    signed = b64(cp, "SignedText")
    sig = b64(cp, "Signature")

    seq, time_ms, fields = decode_leaf(leaf)
    if seq != index + 1:
        raise Bad("the leaf's seq %d is not LeafIndex + 1" % seq)
    if fields["msg_id"] != msg_id or (want_id and msg_id != want_id):
        raise Bad("the leaf is about %r, not %r" % (fields["msg_id"],
                                                    want_id or msg_id))
    if any(len(h) != 32 for h in path) or len(root_hash) != 32:
        raise Bad("a hash is not 32 bytes")
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    if number(cp, "TreeSize") != size:
        raise Bad("TreeSize differs from the checkpoint's")
    if not verify_inclusion(index, size, leaf_hash, path, root_hash):
        raise Bad("the inclusion path does not lead to RootHash")

    lines = signed.decode("ascii").split("\n")
    want = ["gatewayd audit checkpoint v1",
            "tree_size %d" % size,
            "root " + base64.b64encode(root_hash).decode(),
            "time_ms %d" % number(cp, "TimeMs"),
            "key_sha256 " + text(cp, "KeySHA256"),
            ""]
    if lines != want:
        raise Bad("SignedText does not state this tree: %r" % lines)
    der = openssl("x509", "-in", cert_path, "-outform", "DER")
    if der.returncode != 0:
        raise Bad("cannot read the certificate " + cert_path)
    if hashlib.sha256(der.stdout).hexdigest() != text(cp, "KeySHA256").lower():
        raise Bad("the checkpoint names another key than the certificate's")
    with tempfile.TemporaryDirectory() as tmp:
        pub = os.path.join(tmp, "pub.pem")
        sigf = os.path.join(tmp, "sig.der")
        msg = os.path.join(tmp, "signed.txt")
        if openssl("x509", "-in", cert_path, "-pubkey", "-noout",
                   "-out", pub).returncode != 0:
            raise Bad("cannot extract the public key")
        with open(sigf, "wb") as f:
            f.write(sig)
        with open(msg, "wb") as f:
            f.write(signed)
        v = openssl("dgst", "-sha256", "-verify", pub, "-signature", sigf, msg)
        if v.returncode != 0:
            raise Bad("the checkpoint signature does not verify")
    return "%s: %s (seq %d) is leaf %d of the signed tree of size %d" % (
        msg_id, fields["event"], seq, index, size)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        print("OK: " + check(sys.argv[1], sys.argv[2],
                             sys.argv[3] if len(sys.argv) == 4 else None))
        return 0
    except (Bad, ET.ParseError, ValueError, OSError) as e:
        print("INVALID: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
