/* util/strmap.h - a string-keyed hash map (open addressing, FNV-1a).
 * Not thread-safe; the owner locks.  Keys are copied; values are the
 * caller's. */
#ifndef MEF3_UTIL_STRMAP_H
#define MEF3_UTIL_STRMAP_H

#include <stddef.h>

typedef struct mef3__strmap_slot {
  char *key; /* NULL: empty; MEF3__STRMAP_TOMB: deleted */
  void *value;
} mef3__strmap_slot;

typedef struct mef3__strmap {
  mef3__strmap_slot *slots;
  size_t cap;  /* power of two or 0 */
  size_t used; /* live keys */
  size_t tombs;
} mef3__strmap;

/* Value of `key`, or NULL. */
void *mef3__strmap_get(const mef3__strmap *m, const char *key);
/* Set `key` to `value`; the previous value goes to *old (NULL if new).
 * Returns 0 or MEF3_ENOMEM. */
int mef3__strmap_put(mef3__strmap *m, const char *key, void *value, void **old);
/* Remove `key`; returns its value or NULL. */
void *mef3__strmap_del(mef3__strmap *m, const char *key);
/* Free the table and the keys (not the values). */
void mef3__strmap_dispose(mef3__strmap *m);
/* Iterate: start with *it = 0; returns 0 when done. */
int mef3__strmap_next(const mef3__strmap *m, size_t *it, const char **key,
                      void **value);

#endif
