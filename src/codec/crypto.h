/* codec/crypto.h - AES-128-ECB and SHA-256 through OpenSSL's libcrypto. */
#ifndef MEF3_CODEC_CRYPTO_H
#define MEF3_CODEC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 of `len` bytes. */
void mef3__sha256(const uint8_t *in, size_t len, uint8_t out[32]);

/*
 * A cipher context kept for one key and direction, so that decrypting the
 * 16 bytes of each data block does not set up a key schedule every time.
 * Zero-initialize; mef3__aes_dispose frees it.
 */
typedef struct mef3__aes {
  void *ctx; /* EVP_CIPHER_CTX */
  uint8_t key[16];
  int encrypt;
  int ready;
} mef3__aes;

/* En- or decrypt `len` bytes (a multiple of 16) in place with `key`,
 * AES-128-ECB without padding.  Returns 0 or MEF3_ERROR / MEF3_ENOMEM. */
int mef3__aes_run(mef3__aes *a, const uint8_t key[16], int encrypt,
                  uint8_t *buf, size_t len);
void mef3__aes_dispose(mef3__aes *a);

/* One-shot form of mef3__aes_run. */
int mef3__aes_ecb(const uint8_t key[16], int encrypt, uint8_t *buf, size_t len);

#endif
