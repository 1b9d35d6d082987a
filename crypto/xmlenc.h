/*
 * xmlenc.h - XML Encryption of a content container for its readers.
 *
 * Output (W3C XML-Enc 1.1, as current OSCI libraries do it):
 *   xenc:EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element"
 *     EncryptionMethod aes256-gcm with <osci128:IvLength Value="12"/>
 *     ds:KeyInfo with one xenc:EncryptedKey per recipient certificate:
 *       EncryptionMethod xmlenc11#rsa-oaep, xenc11:MGF mgf1sha256,
 *       ds:DigestMethod sha256; ds:KeyInfo/ds:X509Data with the recipient's
 *       X509IssuerSerial and X509Certificate; CipherValue
 *     CipherData/CipherValue = base64(IV(12) || ciphertext || tag(16))
 * The content key is random per call and wiped after use.
 */
#ifndef GW_XMLENC_H
#define GW_XMLENC_H

#include <stddef.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keys.h"

/*
 * Encrypts plain for every certificate in rcpt (RSA keys only; at least
 * one).  The new xenc:EncryptedData element is created in doc (carrying its
 * own namespace declarations), not linked into the tree; the caller adds it
 * where it belongs.
 */
int xmlenc_encrypt(xmlDocPtr doc, const unsigned char *plain, size_t len,
    X509 *const *rcpt, size_t nrcpt, xmlNodePtr *out);

/*
 * The xenc:EncryptedData that xmlenc_encrypt() writes, for a content key
 * the caller holds (cek: 32 bytes, AES-256-GCM) and without the content:
 * CipherData/CipherValue is there and empty, for the caller to fill (or to
 * stream, crypto/attach.c).  The EncryptedKeys are exactly those of
 * xmlenc_encrypt(), and recipients are checked the same way.  Type is set
 * to type unless that is NULL.  Created in doc, not linked into the tree;
 * cek is only read.
 */
int xmlenc_skeleton(xmlDocPtr doc, const unsigned char *cek,
    X509 *const *rcpt, size_t nrcpt, const char *type, xmlNodePtr *out);

/*
 * What decrypting encdata needs besides its CipherValue, checked as
 * xmlenc_decrypt() checks it: the content cipher (AES-256-GCM or
 * AES-128-GCM), the IV length osci128:IvLength announces (12 or 16; 0 when
 * there is none) and the content key, unwrapped with key from the
 * EncryptedKey chosen as xmlenc_decrypt() chooses it.  *cek is malloc'd,
 * *ceklen bytes; wipe and free it with OPENSSL_clear_free().
 */
int xmlenc_content_key(xmlNodePtr encdata, struct keys *key, X509 *cert,
    const EVP_CIPHER **cipher, size_t *ivlen, unsigned char **cek,
    size_t *ceklen);

/*
 * Decrypts an xenc:EncryptedData element with key.  When cert is given, the
 * EncryptedKey whose X509Data matches it is used; otherwise each is tried.
 * Accepts only the algorithms above (rsa-1_5 is refused).  An
 * EncryptionMethod without osci128:IvLength is read with a 16-byte IV (old
 * OSCI peers) and, if the GCM tag does not verify that way, with the W3C
 * 12-byte IV (xml-encryption and other non-OSCI peers): GCM authenticates
 * the IV, so at most one reading can succeed and nothing is released before
 * the tag check.  *plain is malloc'd, NUL-terminated (not counted in *len);
 * at most max bytes.
 */
int xmlenc_decrypt(xmlNodePtr encdata, struct keys *key, X509 *cert,
    size_t max, unsigned char **plain, size_t *len);

#endif
