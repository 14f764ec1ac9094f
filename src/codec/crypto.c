/*
 * codec/crypto.c - AES-128-ECB and SHA-256 glue over libcrypto.
 *
 * MEF encrypts sections 2 and 3 of metadata, record bodies and the first
 * 16 bytes of a data block's statistics table with AES-128 in ECB mode,
 * each 16-byte block on its own, so an EVP context can be reused for any
 * number of blocks once its key is set.
 */
#include "codec/crypto.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#include "mef3pool/common.h"
#include "util/error.h"

void mef3__sha256(const uint8_t *in, size_t len, uint8_t out[32]) {
  SHA256(in, len, out);
}

int mef3__aes_run(mef3__aes *a, const uint8_t key[16], int encrypt,
                  uint8_t *buf, size_t len) {
  if (len % 16)
    return mef3__error(MEF3_EINVAL,
                       "AES input of %zu bytes is not a "
                       "multiple of 16",
                       len);
  if (!a->ctx) {
    a->ctx = EVP_CIPHER_CTX_new();
    if (!a->ctx)
      return mef3__error(MEF3_ENOMEM, "cannot allocate a cipher context");
  }
  if (!a->ready || a->encrypt != encrypt || memcmp(a->key, key, 16)) {
    if (!EVP_CipherInit_ex(a->ctx, EVP_aes_128_ecb(), NULL, key, NULL,
                           encrypt ? 1 : 0) ||
        !EVP_CIPHER_CTX_set_padding(a->ctx, 0)) {
      a->ready = 0;
      return mef3__error(MEF3_ERROR, "AES key setup failed");
    }
    memcpy(a->key, key, 16);
    a->encrypt = encrypt;
    a->ready = 1;
  }
  int outl = 0;
  if (len && !EVP_CipherUpdate(a->ctx, buf, &outl, buf, (int)len))
    return mef3__error(MEF3_ERROR, "AES failed");
  return 0;
}

void mef3__aes_dispose(mef3__aes *a) {
  if (a->ctx)
    EVP_CIPHER_CTX_free(a->ctx);
  memset(a, 0, sizeof *a);
}

int mef3__aes_ecb(const uint8_t key[16], int encrypt, uint8_t *buf,
                  size_t len) {
  mef3__aes a = {0};
  int rc = mef3__aes_run(&a, key, encrypt, buf, len);
  mef3__aes_dispose(&a);
  return rc;
}
