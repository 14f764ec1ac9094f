/* util/bytes.h - little-endian loads and stores that never assume
 * alignment (MEF is little-endian; memcpy compiles to a plain load). */
#ifndef MEF3_UTIL_BYTES_H
#define MEF3_UTIL_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mef3pool currently supports little-endian hosts only"
#endif

static inline uint32_t ld_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline int32_t ld_i32(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline int64_t ld_i64(const uint8_t *p) {
  int64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline float ld_f32(const uint8_t *p) {
  float v;
  memcpy(&v, p, 4);
  return v;
}
static inline double ld_f64(const uint8_t *p) {
  double v;
  memcpy(&v, p, 8);
  return v;
}
static inline void st_u32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static inline void st_i32(uint8_t *p, int32_t v) {
  memcpy(p, &v, 4);
}
static inline void st_i64(uint8_t *p, int64_t v) {
  memcpy(p, &v, 8);
}
static inline void st_f32(uint8_t *p, float v) {
  memcpy(p, &v, 4);
}
static inline void st_f64(uint8_t *p, double v) {
  memcpy(p, &v, 8);
}

/* Copy a fixed-size on-disk string field into `dst` (dst_len bytes),
 * always NUL-terminating, never reading past `src_len`. */
static inline void ld_str(char *dst, size_t dst_len, const uint8_t *src,
                          size_t src_len) {
  size_t n = 0;
  while (n < src_len && n + 1 < dst_len && src[n])
    n++;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Write a string into a fixed field of `len` bytes, zero-filled; the
 * string is cut so that a terminating NUL always fits. */
static inline void st_str(uint8_t *dst, size_t len, const char *s) {
  memset(dst, 0, len);
  if (!s)
    return;
  size_t n = strlen(s);
  if (n > len - 1)
    n = len - 1;
  memcpy(dst, s, n);
}

#endif
