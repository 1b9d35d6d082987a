/*
 * test_keys.c - the private key holder, crypto/keys.h.
 *
 * What callers rely on: a PEM key file loads into the key it holds (RSA or
 * EC, nothing else); signatures made through keys_sign() verify with plain
 * OpenSSL under exactly the scheme asked for (PKCS#1 v1.5, PSS with salt =
 * digest length, ECDSA as DER); keys_decrypt() undoes RSA-OAEP with SHA-256
 * and MGF1-SHA-256 as another implementation makes it and refuses anything
 * else; and the private half never leaves the holder.
 *
 * Keys are made once in the group setup (RSA generation is slow under ASan)
 * and written with pki_write_key() to a temporary directory.  The
 * independent side of every check is OpenSSL's EVP API used directly.
 */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "err.h"
#include "keys.h"
#include "pki.h"

#define PASSPHRASE	"correct horse battery staple"

static struct {
	char dir[64];
	EVP_PKEY *rsa, *rsa_other, *ec;
} F;

static const unsigned char msg[] =
    "<Submission>Gr\xc3\xbc\xc3\x9f" "e</Submission>\n\0binary tail\xff";

/* ---- fixtures ---------------------------------------------------------- */

static void
path_of(const char *name, char out[PATH_MAX])
{
	assert_true((size_t)snprintf(out, PATH_MAX, "%s/%s", F.dir, name) <
	    PATH_MAX);
}

static int
put(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/*
 * Writes key with OpenSSL's own PEM writers: 'T' traditional ("BEGIN RSA
 * PRIVATE KEY"), 'E' encrypted PKCS#8, 'P' the public key only.
 */
static int
write_pem(const char *name, EVP_PKEY *key, char how)
{
	char path[PATH_MAX];
	BIO *b;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	if ((b = BIO_new_file(path, "w")) == NULL)
		return -1;
	if (how == 'T')
		ok = PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0,
		    NULL, NULL);
	else if (how == 'E')
		ok = PEM_write_bio_PrivateKey(b, key, EVP_aes_256_cbc(), NULL, 0,
		    NULL, (void *)PASSPHRASE);
	else
		ok = PEM_write_bio_PUBKEY(b, key);
	BIO_free(b);
	return ok == 1 ? 0 : -1;
}

static int
group_setup(void **state)
{
	struct pki_cert_spec spec = { .cn = "keys test", .days = 1 };
	char path[PATH_MAX];
	EVP_PKEY *ed = NULL;
	X509 *cert = NULL;
	int r = -1;

	(void)state;
	snprintf(F.dir, sizeof(F.dir), "/tmp/gw-test-keys-XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	if (pki_make_key(PKI_KEY_RSA2048, &F.rsa) != 0 ||
	    pki_make_key(PKI_KEY_RSA2048, &F.rsa_other) != 0 ||
	    pki_make_key(PKI_KEY_EC_P256, &F.ec) != 0 ||
	    (ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/rsa.key", F.dir);
	if (pki_write_key(path, F.rsa) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/ec.key", F.dir);
	if (pki_write_key(path, F.ec) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/ed25519.key", F.dir);
	if (pki_write_key(path, ed) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/cert.pem", F.dir);
	if (pki_make_cert(&spec, F.ec, NULL, NULL, &cert) != 0 ||
	    pki_write_cert(path, cert) != 0)
		goto out;
	if (write_pem("rsa-trad.key", F.rsa, 'T') != 0 ||
	    write_pem("ec-trad.key", F.ec, 'T') != 0 ||
	    write_pem("rsa-enc.key", F.rsa, 'E') != 0 ||
	    write_pem("rsa-public.pem", F.rsa, 'P') != 0)
		goto out;
	if (put("garbage.key", "-----BEGIN PRIVATE KEY-----\nnot base64 at "
	    "all!\n-----END PRIVATE KEY-----\n") != 0 ||
	    put("text.key", "just some text\n") != 0 ||
	    put("empty.key", "") != 0)
		goto out;
	r = 0;
 out:
	X509_free(cert);
	EVP_PKEY_free(ed);
	return r;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(F.rsa);
	EVP_PKEY_free(F.rsa_other);
	EVP_PKEY_free(F.ec);
	if (F.dir[0] != '\0')
		nftw(F.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static struct keys *
load(const char *name)
{
	char path[PATH_MAX];
	struct keys *k = NULL;
	int r;

	path_of(name, path);
	if ((r = keys_load(path, &k)) != 0)
		fail_msg("keys_load(%s) = %d", name, r);
	assert_non_null(k);
	return k;
}

/* keys over a new reference to pkey (the holder takes that reference). */
static struct keys *
hold(EVP_PKEY *pkey)
{
	struct keys *k = NULL;

	assert_int_equal(EVP_PKEY_up_ref(pkey), 1);
	assert_int_equal(keys_from_pkey(pkey, &k), 0);
	return k;
}

/*
 * Verifies sig over data with OpenSSL directly: 1 valid, 0 not.  saltlen
 * >= 0 selects PSS with that salt length and MGF1 with md.
 */
static int
verify(EVP_PKEY *pub, const EVP_MD *md, int saltlen, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	assert_non_null(mctx);
	if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pub) != 1)
		goto out;
	if (saltlen >= 0 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
		goto out;
	ok = EVP_DigestVerify(mctx, sig, siglen, data, len) == 1;
 out:
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return ok;
}

/* RSA-OAEP encryption as another implementation would do it. */
static unsigned char *
oaep_encrypt(EVP_PKEY *pub, const EVP_MD *oaep, const EVP_MD *mgf1,
    const unsigned char *in, size_t inlen, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	unsigned char *out;
	size_t n = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, oaep), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1), 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, NULL, &n, in, inlen), 1);
	assert_non_null(out = malloc(n));
	assert_int_equal(EVP_PKEY_encrypt(ctx, out, &n, in, inlen), 1);
	EVP_PKEY_CTX_free(ctx);
	*outlen = n;
	return out;
}

/* keys_decrypt must refuse ct and leave the out-parameters alone. */
static void
assert_decrypt_refused(struct keys *k, const EVP_MD *oaep, const EVP_MD *mgf1,
    const unsigned char *ct, size_t ctlen)
{
	unsigned char *out = NULL;
	size_t n = 4242;
	int r;

	r = keys_decrypt(k, oaep, mgf1, ct, ctlen, &out, &n);
	if (r == 0) {
		OPENSSL_clear_free(out, n);
		fail_msg("decryption succeeded (%zu bytes); expected a refusal", n);
	}
	assert_int_equal(r, GW_ERR_CRYPTO);
	assert_null(out);
	assert_int_equal(n, 4242);
	ERR_clear_error();
}

/* ---- loading ----------------------------------------------------------- */

static void
test_load_rsa(void **state)
{
	struct keys *k;
	EVP_PKEY *pub;

	(void)state;
	k = load("rsa.key");
	assert_int_equal(keys_type(k), EVP_PKEY_RSA);
	assert_int_equal(keys_bits(k), 2048);
	pub = keys_public(k);
	assert_non_null(pub);
	/* the key in the file, not some key */
	assert_int_equal(EVP_PKEY_eq(pub, F.rsa), 1);
	assert_int_not_equal(EVP_PKEY_eq(pub, F.rsa_other), 1);
	EVP_PKEY_free(pub);
	keys_free(k);
}

static void
test_load_ec(void **state)
{
	struct keys *k;
	EVP_PKEY *pub;

	(void)state;
	k = load("ec.key");
	assert_int_equal(keys_type(k), EVP_PKEY_EC);
	assert_int_equal(keys_bits(k), 256);
	pub = keys_public(k);
	assert_int_equal(EVP_PKEY_eq(pub, F.ec), 1);
	EVP_PKEY_free(pub);
	keys_free(k);
}

/* "BEGIN RSA PRIVATE KEY" / "BEGIN EC PRIVATE KEY" files load as well. */
static void
test_load_traditional(void **state)
{
	char path[PATH_MAX], line[64];
	struct keys *k;
	EVP_PKEY *pub;
	FILE *f;

	(void)state;
	path_of("rsa-trad.key", path);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "-----BEGIN RSA PRIVATE KEY-----\n");

	k = load("rsa-trad.key");
	pub = keys_public(k);
	assert_int_equal(EVP_PKEY_eq(pub, F.rsa), 1);
	EVP_PKEY_free(pub);
	keys_free(k);

	k = load("ec-trad.key");
	assert_int_equal(keys_type(k), EVP_PKEY_EC);
	pub = keys_public(k);
	assert_int_equal(EVP_PKEY_eq(pub, F.ec), 1);
	EVP_PKEY_free(pub);
	keys_free(k);
}

static void
test_load_errors(void **state)
{
	static const struct { const char *name; int want; } cases[] = {
		{ "no-such.key", GW_ERR_IO },
		{ "garbage.key", GW_ERR_CRYPTO },
		{ "text.key", GW_ERR_CRYPTO },
		{ "empty.key", GW_ERR_CRYPTO },
		{ "cert.pem", GW_ERR_CRYPTO },		/* a certificate */
		{ "rsa-public.pem", GW_ERR_CRYPTO },	/* a public key */
		{ "ed25519.key", GW_ERR_SIG_ALGORITHM },	/* neither RSA nor EC */
	};
	struct keys *k;
	char path[PATH_MAX];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = NULL;
		path_of(cases[i].name, path);
		r = keys_load(path, &k);
		if (r != cases[i].want) {
			keys_free(k);
			fail_msg("keys_load(%s) = %d, want %d", cases[i].name, r,
			    cases[i].want);
		}
		assert_null(k);
		ERR_clear_error();
	}
	/* a directory is no key either */
	k = NULL;
	assert_int_not_equal(keys_load(F.dir, &k), 0);
	assert_null(k);
	ERR_clear_error();
}

/*
 * An encrypted key is refused at once: keys.h promises unencrypted keys
 * only, and a daemon must not wait for a pass phrase.  At 686eecc
 * keys_load() passed a NULL password callback to PEM_read_PrivateKey(), so
 * OpenSSL's default callback printed "Enter PEM pass phrase:" and read one
 * from /dev/tty (gatewayd started from a shell blocked) or, without a
 * terminal, from stdin (whatever was there became the pass phrase).
 *
 * Run in a child without a controlling terminal (setsid) whose stdin holds
 * the right pass phrase: the key must still not load, and nothing may be
 * printed.
 */
static void
test_load_encrypted_no_prompt(void **state)
{
	char path[PATH_MAX], err[256];
	int in[2], errp[2], status, r;
	struct keys *k = NULL;
	ssize_t n;
	pid_t pid;

	(void)state;
	path_of("rsa-enc.key", path);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(errp), 0);
	assert_true(write(in[1], PASSPHRASE "\n", sizeof(PASSPHRASE)) ==
	    (ssize_t)sizeof(PASSPHRASE));
	close(in[1]);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		setsid();
		dup2(in[0], 0);
		dup2(errp[1], 2);
		close(errp[0]);
		r = keys_load(path, &k);
		/* 0: refused as promised; 1: loaded; 2: other error code */
		_exit(r == GW_ERR_CRYPTO ? 0 : r == 0 ? 1 : 2);
	}
	close(in[0]);
	close(errp[1]);
	n = read(errp[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(errp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 1)
		fail_msg("an encrypted key loaded with a pass phrase read from "
		    "stdin (stderr: \"%s\")", err);
	assert_int_equal(WEXITSTATUS(status), 0);
	if (strstr(err, "pass phrase") != NULL)
		fail_msg("keys_load prompted: \"%s\"", err);
}

static void
test_free_null(void **state)
{
	struct keys *k;

	(void)state;
	keys_free(NULL);
	/* keys_from_pkey takes the reference: one keys_free releases it all
	 * (LeakSanitizer checks) */
	k = hold(F.ec);
	assert_int_equal(keys_type(k), EVP_PKEY_EC);
	keys_free(k);
}

/*
 * keys_public() hands out the public half only: keys.h promises that the
 * key material never leaves the holder, so that keys can later move into a
 * process of their own.  At 686eecc it returned a new reference to the
 * holder's own EVP_PKEY, private half included, which any caller could
 * sign or decrypt with or write out with PEM_write_PrivateKey().
 */
/* keys_match_cert: the cheap check signing relies on. */
static void
test_match_cert(void **state)
{
	struct pki_cert_spec spec = { .cn = "match", .days = 1 };
	struct keys *k;
	X509 *mine = NULL, *other = NULL;

	(void)state;
	assert_int_equal(pki_make_cert(&spec, F.rsa, NULL, NULL, &mine), 0);
	assert_int_equal(pki_make_cert(&spec, F.rsa_other, NULL, NULL, &other), 0);
	k = hold(F.rsa);
	assert_int_equal(keys_match_cert(k, mine), 1);
	assert_int_equal(keys_match_cert(k, other), 0);
	assert_int_equal(keys_match_cert(k, NULL), 0);
	keys_free(k);
	X509_free(mine);
	X509_free(other);
}

static void
test_public_has_no_private_half(void **state)
{
	struct keys *k;
	EVP_PKEY *pub;
	BIO *b;
	int wrote;

	(void)state;
	k = hold(F.rsa);
	pub = keys_public(k);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, F.rsa), 1);	/* the right key */
	assert_non_null(b = BIO_new(BIO_s_mem()));
	wrote = PEM_write_bio_PrivateKey(b, pub, NULL, NULL, 0, NULL, NULL);
	BIO_free(b);
	EVP_PKEY_free(pub);
	keys_free(k);
	ERR_clear_error();
	if (wrote)
		fail_msg("the key from keys_public() serialises as a private key");
}

/* ---- signing ----------------------------------------------------------- */

static void
test_sign_rsa_pkcs1(void **state)
{
	unsigned char *sig = NULL, *sig2 = NULL;
	size_t siglen = 0, siglen2 = 0;
	struct keys *k;
	int same;

	(void)state;
	k = load("rsa.key");
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PKCS1, EVP_sha256(), msg,
	    sizeof(msg), &sig, &siglen), 0);
	assert_int_equal(siglen, 256);
	assert_true(verify(F.rsa, EVP_sha256(), -1, msg, sizeof(msg), sig, siglen));
	/* only over these bytes, only with this key, only PKCS#1 v1.5 */
	assert_false(verify(F.rsa, EVP_sha256(), -1, msg, sizeof(msg) - 1, sig,
	    siglen));
	assert_false(verify(F.rsa_other, EVP_sha256(), -1, msg, sizeof(msg),
	    sig, siglen));
	assert_false(verify(F.rsa, EVP_sha256(), 32, msg, sizeof(msg), sig,
	    siglen));
	assert_false(verify(F.rsa, EVP_sha384(), -1, msg, sizeof(msg), sig,
	    siglen));
	/* PKCS#1 v1.5 is deterministic */
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PKCS1, EVP_sha256(), msg,
	    sizeof(msg), &sig2, &siglen2), 0);
	same = siglen == siglen2 && memcmp(sig, sig2, siglen) == 0;
	free(sig2);
	sig2 = NULL;
	assert_true(same);
	free(sig);

	/* another digest */
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PKCS1, EVP_sha512(), msg,
	    sizeof(msg), &sig2, &siglen2), 0);
	assert_true(verify(F.rsa, EVP_sha512(), -1, msg, sizeof(msg), sig2,
	    siglen2));
	free(sig2);
	keys_free(k);
}

static void
test_sign_rsa_pss(void **state)
{
	unsigned char *sig = NULL, *sig2 = NULL;
	size_t siglen = 0, siglen2 = 0;
	struct keys *k;
	int same;

	(void)state;
	k = load("rsa.key");
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PSS, EVP_sha256(), msg,
	    sizeof(msg), &sig, &siglen), 0);
	assert_int_equal(siglen, 256);
	/* salt length = digest length (32), MGF1 with SHA-256 */
	assert_true(verify(F.rsa, EVP_sha256(), 32, msg, sizeof(msg), sig, siglen));
	assert_false(verify(F.rsa, EVP_sha256(), 20, msg, sizeof(msg), sig,
	    siglen));
	assert_false(verify(F.rsa, EVP_sha256(), -1, msg, sizeof(msg), sig,
	    siglen));
	assert_false(verify(F.rsa, EVP_sha256(), 32, msg, sizeof(msg) - 1, sig,
	    siglen));
	/* PSS is randomised */
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PSS, EVP_sha256(), msg,
	    sizeof(msg), &sig2, &siglen2), 0);
	same = siglen == siglen2 && memcmp(sig, sig2, siglen) == 0;
	free(sig);
	free(sig2);
	assert_false(same);

	/* SHA-384: salt 48, MGF1-SHA-384 */
	sig = NULL;
	assert_int_equal(keys_sign(k, KEYS_SIG_RSA_PSS, EVP_sha384(), msg,
	    sizeof(msg), &sig, &siglen), 0);
	assert_true(verify(F.rsa, EVP_sha384(), 48, msg, sizeof(msg), sig, siglen));
	free(sig);
	keys_free(k);
}

static void
test_sign_ecdsa(void **state)
{
	unsigned char *sig = NULL, *der = NULL;
	const unsigned char *p;
	ECDSA_SIG *es;
	size_t siglen = 0;
	struct keys *k;
	int derlen;

	(void)state;
	k = load("ec.key");
	assert_int_equal(keys_sign(k, KEYS_SIG_ECDSA, EVP_sha256(), msg,
	    sizeof(msg), &sig, &siglen), 0);
	assert_true(verify(F.ec, EVP_sha256(), -1, msg, sizeof(msg), sig, siglen));
	assert_false(verify(F.ec, EVP_sha256(), -1, msg, 3, sig, siglen));
	/* DER ECDSA-Sig-Value, nothing before or after it */
	p = sig;
	assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)siglen));
	assert_ptr_equal(p, sig + siglen);
	derlen = i2d_ECDSA_SIG(es, &der);
	assert_int_equal(derlen, (int)siglen);
	assert_memory_equal(der, sig, siglen);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	free(sig);
	keys_free(k);
}

static void
test_sign_wrong_alg(void **state)
{
	static const struct { int rsa; enum keys_sigalg alg; } cases[] = {
		{ 1, KEYS_SIG_ECDSA }, { 0, KEYS_SIG_RSA_PKCS1 },
		{ 0, KEYS_SIG_RSA_PSS },
	};
	unsigned char *sig;
	size_t i, siglen;
	struct keys *k;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = load(cases[i].rsa ? "rsa.key" : "ec.key");
		sig = NULL;
		siglen = 4242;
		r = keys_sign(k, cases[i].alg, EVP_sha256(), msg, sizeof(msg),
		    &sig, &siglen);
		keys_free(k);
		if (r == 0) {
			free(sig);
			fail_msg("case %zu: signed with the wrong algorithm", i);
		}
		assert_int_equal(r, GW_ERR_SIG_ALGORITHM);
		assert_null(sig);
		assert_int_equal(siglen, 4242);
	}
}

/* ---- decryption -------------------------------------------------------- */

static void
test_decrypt_oaep(void **state)
{
	unsigned char cek[32], *ct, *pt = NULL;
	size_t i, ctlen, ptlen = 0;
	struct keys *k;
	int same;

	(void)state;
	for (i = 0; i < sizeof(cek); i++)	/* a content key, with a 0 byte */
		cek[i] = (unsigned char)(i * 37);
	k = load("rsa.key");
	ct = oaep_encrypt(F.rsa, EVP_sha256(), EVP_sha256(), cek, sizeof(cek),
	    &ctlen);
	assert_int_equal(ctlen, 256);
	assert_int_equal(keys_decrypt(k, EVP_sha256(), EVP_sha256(), ct, ctlen,
	    &pt, &ptlen), 0);
	same = ptlen == sizeof(cek) && memcmp(pt, cek, ptlen) == 0;
	OPENSSL_clear_free(pt, ptlen);
	free(ct);
	assert_true(same);

	/* other digest pairs are honoured as given (SHA-1 OAEP, MGF1-SHA-1) */
	ct = oaep_encrypt(F.rsa, EVP_sha1(), EVP_sha1(), cek, 16, &ctlen);
	pt = NULL;
	assert_int_equal(keys_decrypt(k, EVP_sha1(), EVP_sha1(), ct, ctlen, &pt,
	    &ptlen), 0);
	same = ptlen == 16 && memcmp(pt, cek, 16) == 0;
	OPENSSL_clear_free(pt, ptlen);
	free(ct);
	assert_true(same);
	keys_free(k);
}

static void
test_decrypt_refusals(void **state)
{
	unsigned char cek[32], *ct;
	size_t ctlen;
	struct keys *k, *other, *ec;

	(void)state;
	memset(cek, 0x5a, sizeof(cek));
	k = load("rsa.key");
	other = hold(F.rsa_other);
	ec = load("ec.key");
	ct = oaep_encrypt(F.rsa, EVP_sha256(), EVP_sha256(), cek, sizeof(cek),
	    &ctlen);

	/* wrong key */
	assert_decrypt_refused(other, EVP_sha256(), EVP_sha256(), ct, ctlen);
	/* wrong OAEP digest, wrong MGF1 digest */
	assert_decrypt_refused(k, EVP_sha1(), EVP_sha256(), ct, ctlen);
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha1(), ct, ctlen);
	/* short and empty ciphertext */
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), ct, ctlen - 1);
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), ct, 0);
	/* an EC key cannot decrypt */
	assert_decrypt_refused(ec, EVP_sha256(), EVP_sha256(), ct, ctlen);
	/* altered ciphertext: first, middle and last byte */
	ct[0] ^= 0x01;
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), ct, ctlen);
	ct[0] ^= 0x01;
	ct[ctlen / 2] ^= 0x80;
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), ct, ctlen);
	ct[ctlen / 2] ^= 0x80;
	ct[ctlen - 1] ^= 0x01;
	assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), ct, ctlen);
	free(ct);

	/* RSA PKCS#1 v1.5 ciphertext is not OAEP */
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(F.rsa, NULL);
		unsigned char v15[256];
		size_t n = sizeof(v15);

		assert_non_null(ctx);
		assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_encrypt(ctx, v15, &n, cek, sizeof(cek)),
		    1);
		EVP_PKEY_CTX_free(ctx);
		assert_decrypt_refused(k, EVP_sha256(), EVP_sha256(), v15, n);
	}
	keys_free(k);
	keys_free(other);
	keys_free(ec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_rsa),
		cmocka_unit_test(test_load_ec),
		cmocka_unit_test(test_load_traditional),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_encrypted_no_prompt),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_public_has_no_private_half),
		cmocka_unit_test(test_match_cert),
		cmocka_unit_test(test_sign_rsa_pkcs1),
		cmocka_unit_test(test_sign_rsa_pss),
		cmocka_unit_test(test_sign_ecdsa),
		cmocka_unit_test(test_sign_wrong_alg),
		cmocka_unit_test(test_decrypt_oaep),
		cmocka_unit_test(test_decrypt_refusals),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
