/* SPDX-License-Identifier: Apache-2.0 */
#include "signature.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "reterr.h"

struct SignatureKey {
        EVP_PKEY *pkey;
        bool private;
};

/* OpenSSL reports failures through a per-thread queue of packed codes; this
 * is the one place that turns them into our errno vocabulary, with the
 * queue's text as the explanation. It always empties the queue. */
static int openssl_error(int fallback, char **reterr, const char *what) {
        int r = fallback;
        char text[512] = "";
        unsigned long e;
        while ((e = ERR_get_error()) != 0) {
                if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                        r = -EBADMSG;
                else if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
                        r = -ENOMEM;
                if (!text[0])
                        ERR_error_string_n(e, text, sizeof text);
        }
        if (reterr && !*reterr) {
                if (asprintf(reterr, "%s%s%s", what, text[0] ? ": " : "", text) < 0)
                        *reterr = NULL;
        }
        return r;
}

SignatureKey *signature_key_free(SignatureKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

static int key_wrap(EVP_PKEY *pkey, bool private, SignatureKey **ret) {
        if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(pkey);
                return -EINVAL;
        }
        SignatureKey *k = calloc(1, sizeof *k);
        if (!k) {
                EVP_PKEY_free(pkey);
                return -ENOMEM;
        }
        k->pkey = pkey;
        k->private = private;
        *ret = k;
        return 0;
}

/* Writes a PEM file through a temporary name in the same directory. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, bool private, char **reterr) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return reterr_printf(reterr, -errno, "cannot create %s", tmp);
        FILE *f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                unlink(tmp);
                return -ENOMEM;
        }
        int ok = private ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pkey);
        int r = 0;
        if (!ok)
                r = openssl_error(-EIO, reterr, "cannot encode the key");
        else if (fflush(f) != 0 || fsync(fileno(f)) < 0)
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && link(tmp, path) < 0) /* link(): never replaces an existing file */
                r = errno == EEXIST ? reterr_printf(reterr, -EEXIST, "%s exists; not overwriting it", path) : -errno;
        unlink(tmp);
        if (r < 0)
                return r;
        return fsync_parent_dir(path);
}

int signature_key_generate(const char *path, const char *pub_path, char **reterr) {
        if (access(path, F_OK) == 0)
                return reterr_printf(reterr, -EEXIST, "%s exists; not overwriting it", path);
        if (access(pub_path, F_OK) == 0)
                return reterr_printf(reterr, -EEXIST, "%s exists; not overwriting it", pub_path);
        EVP_PKEY *pkey = NULL;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0) {
                EVP_PKEY_CTX_free(ctx);
                return openssl_error(-EIO, reterr, "cannot generate an Ed25519 key");
        }
        EVP_PKEY_CTX_free(ctx);
        int r = write_pem(path, 0600, pkey, true, reterr);
        if (r >= 0) {
                r = write_pem(pub_path, 0644, pkey, false, reterr);
                if (r < 0)
                        unlink(path);
        }
        EVP_PKEY_free(pkey);
        return r;
}

static int load(const char *path, bool want_private, SignatureKey **ret, char **reterr) {
        FILE *f = fopen(path, "re");
        if (!f)
                return reterr_printf(reterr, -errno, "cannot open %s", path);
        EVP_PKEY *pkey = NULL;
        bool private = false;
        /* A private key file serves as a public key too: try it second. */
        if (!want_private)
                pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        if (!pkey) {
                ERR_clear_error();
                rewind(f);
                pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
                private = pkey != NULL;
        }
        fclose(f);
        if (!pkey) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "%s is not a PEM %s key", path, want_private ? "private" : "public or private") < 0)
                        return -ENOMEM;
                int r = openssl_error(-EBADMSG, reterr, what);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        ERR_clear_error();
        int r = key_wrap(pkey, private, ret);
        if (r == -EINVAL)
                return reterr_printf(reterr, r, "%s is not an Ed25519 key", path);
        return r;
}

int signature_key_load_private(const char *path, SignatureKey **ret, char **reterr) {
        return load(path, true, ret, reterr);
}

int signature_key_load_public(const char *path, SignatureKey **ret, char **reterr) {
        return load(path, false, ret, reterr);
}

int signature_key_from_raw(const uint8_t raw[static SIGNATURE_PUBLIC_KEY_SIZE], SignatureKey **ret) {
        EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, SIGNATURE_PUBLIC_KEY_SIZE);
        if (!pkey)
                return openssl_error(-EINVAL, NULL, NULL);
        return key_wrap(pkey, false, ret);
}

int signature_key_raw_public(const SignatureKey *k, uint8_t ret[static SIGNATURE_PUBLIC_KEY_SIZE]) {
        size_t n = SIGNATURE_PUBLIC_KEY_SIZE;
        if (EVP_PKEY_get_raw_public_key(k->pkey, ret, &n) <= 0 || n != SIGNATURE_PUBLIC_KEY_SIZE)
                return openssl_error(-EIO, NULL, NULL);
        return 0;
}

int signature_sign(SignatureKey *k, const void *msg, size_t n, uint8_t ret[static SIGNATURE_SIZE]) {
        if (!k->private)
                return -EINVAL;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        size_t len = SIGNATURE_SIZE;
        /* Ed25519 hashes internally: no digest, one-shot. */
        int ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) > 0 &&
                 EVP_DigestSign(ctx, ret, &len, msg, n) > 0 && len == SIGNATURE_SIZE;
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : openssl_error(-EIO, NULL, NULL);
}

int signature_verify(SignatureKey *k, const void *msg, size_t n, const void *sig, size_t sig_size) {
        if (sig_size != SIGNATURE_SIZE)
                return -EBADMSG;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        int r = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey);
        if (r > 0)
                r = EVP_DigestVerify(ctx, sig, sig_size, msg, n);
        EVP_MD_CTX_free(ctx);
        if (r == 1)
                return 0;
        /* 0 is "does not verify"; anything else a failure that means the same. */
        (void) openssl_error(-EBADMSG, NULL, NULL);
        return -EBADMSG;
}
