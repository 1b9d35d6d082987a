/*
 * attach.h - attachments of any size in constant memory (docs/attachments.md).
 *
 * Intake: an attachment is encrypted (AES-256-GCM, random 32-byte key per
 * attachment, 12-byte IV) and hashed while it arrives, and spooled to disk as
 * IV || ciphertext || tag.  The key exists only in memory until it is wrapped
 * (RSA-OAEP) for each reader's encryption certificates; the gateway cannot
 * read a spooled attachment afterwards.
 *
 * Output: what a reader receives for attachment i is a standalone XML
 * document, one xenc:EncryptedData (no Type, MimeType = the attachment's
 * content type, Id = the attachment id) whose KeyInfo holds one EncryptedKey
 * per reader certificate (exactly as xmlenc.h writes them) and whose
 * CipherValue is base64(IV || ciphertext || tag) without line breaks.  It is
 * produced as header || base64(spool file) || footer, streamed from disk.
 * Independent XML-Enc implementations decrypt it (tests/interop).
 *
 * Nothing here holds a whole attachment in memory: buffers are fixed (tens
 * of KiB).  Each object is used by one thread at a time.
 */
#ifndef GW_ATTACH_H
#define GW_ATTACH_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "keys.h"

#define ATTACH_KEY_LEN	32
#define ATTACH_IV_LEN	12
#define ATTACH_TAG_LEN	16

/* ---- intake: encrypt-and-spool while the bytes arrive ---- */

struct attach_writer;

struct attach_info {
	unsigned char key[ATTACH_KEY_LEN];	/* content key; wipe after use */
	uint64_t plain_size;
	char plain_sha256[65];		/* lowercase hex of the plaintext */
	uint64_t cipher_size;		/* file size: IV + ciphertext + tag */
	char cipher_sha256[65];		/* hex SHA-256 of the file's bytes */
	char path[512];			/* the spool file */
};

/*
 * Creates a new spool file in dir (which must exist) with a random name
 * "in-<32 hex>.tmp", mode 0600, and writes the IV.
 */
int attach_writer_open(const char *dir, struct attach_writer **out);
/* Encrypts, hashes and appends len bytes. */
int attach_writer_update(struct attach_writer *w, const void *buf, size_t len);
/* Plaintext bytes so far. */
uint64_t attach_writer_size(const struct attach_writer *w);
/*
 * Writes the tag, fsyncs the file and fills *info; frees w.  On error the
 * file is removed.
 */
int attach_writer_finish(struct attach_writer *w, struct attach_info *info);
/*
 * As attach_writer_finish() without the fsync, for the io thread: the
 * part's file and buffers are let go as soon as it is complete; whoever
 * keeps the file calls attach_sync() first.
 */
int attach_writer_close(struct attach_writer *w, struct attach_info *info);
/* fsync of a finished spool file. */
int attach_sync(const char *path);
/* Removes the file and frees w (client went away, digest wrong, ...). */
void attach_writer_abort(struct attach_writer *w);

/* ---- output: the reader's EncryptedData document ---- */

/*
 * The header (from the XML declaration to the CipherValue start tag) and
 * footer of the document for one attachment: EncryptedData Id=id
 * MimeType=mime, aes256-gcm with osci128:IvLength 12, one EncryptedKey per
 * certificate in rcpt (key wrapped with RSA-OAEP as in xmlenc.h).  *hdr and
 * *ftr are malloc'd.
 */
int attach_part_header(const unsigned char key[ATTACH_KEY_LEN],
    X509 *const *rcpt, size_t nrcpt, const char *id, const char *mime,
    char **hdr, size_t *hdrlen, char **ftr, size_t *ftrlen);

/* Length of base64 (no line breaks) of n bytes. */
uint64_t attach_b64_len(uint64_t n);

/* Streams header || base64(file) || footer. */
struct attach_reader;

/* Opens path; hdr and ftr are copied. */
int attach_reader_open(const char *path, const char *hdr, size_t hdrlen,
    const char *ftr, size_t ftrlen, struct attach_reader **out);
/* Total bytes the reader produces (known before reading). */
uint64_t attach_reader_total(const struct attach_reader *r);
/*
 * Copies up to max bytes into buf; returns the number of bytes (0 at the
 * end) or a negative GW_ERR_*.  Fails with GW_ERR_INTERNAL if the file
 * changed size since open.
 */
long attach_reader_read(struct attach_reader *r, void *buf, size_t max);
void attach_reader_free(struct attach_reader *r);

/* ---- intake: read a spool file back while its key is still known ---- */

/*
 * A read-only BIO over the plaintext of the spool file path written with
 * key (attach_writer), decrypted as it is read, in constant memory; at the
 * end the GCM tag is checked and a bad one is a read error.  For checking
 * detached CMS signatures over attachments during intake (the key is gone
 * once a message is accepted).  Free with BIO_free.
 */
int attach_spool_bio(const char *path, const unsigned char key[ATTACH_KEY_LEN],
    BIO **out);
/* 1 if reading b failed (I/O error, short file or bad tag). */
int attach_spool_bio_failed(BIO *b);

/* ---- reader side: decrypt a received document in constant memory ---- */

struct attach_result {
	uint64_t plain_size;
	char plain_sha256[65];
	uint64_t cipher_size;
	char cipher_sha256[65];		/* of the decoded CipherValue bytes */
	char mime[128];
	char id[128];
};

/*
 * Reads an EncryptedData document (as above, or any with aes256-gcm /
 * aes128-gcm content, a CipherValue and an EncryptedKey for key) from fd_in
 * and writes the plaintext to fd_out as it goes.  The header (everything
 * before the CipherValue text) may be at most 1 MiB; when cert is given the
 * matching EncryptedKey is used.  The plaintext is only valid when this
 * returns 0: on a bad tag it returns GW_ERR_CRYPTO and the caller must
 * discard what was written (write to a temporary file, rename after 0).
 */
int attach_decrypt_fd(int fd_in, int fd_out, struct keys *key, X509 *cert,
    uint64_t max_plain, struct attach_result *res);

#endif
