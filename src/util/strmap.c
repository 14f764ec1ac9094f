/* util/strmap.c - a string-keyed hash map with open addressing and linear
 * probing; deleted slots are tombstones, cleared when the table grows. */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/common.h"
#include "util/alloc.h"

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (uint8_t)*s++) * 1099511628211ull;
  return h;
}

static mef3__strmap_slot *find(const mef3__strmap *m, const char *key) {
  if (!m->cap)
    return NULL;
  size_t mask = m->cap - 1;
  for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
    mef3__strmap_slot *s = &m->slots[i];
    if (!s->key)
      return NULL;
    if (s->key != TOMB && strcmp(s->key, key) == 0)
      return s;
  }
}

void *mef3__strmap_get(const mef3__strmap *m, const char *key) {
  mef3__strmap_slot *s = find(m, key);
  return s ? s->value : NULL;
}

static int grow(mef3__strmap *m) {
  size_t nc = m->cap ? m->cap * 2 : 16;
  if (m->used * 4 < m->cap)
    nc = m->cap; /* mostly tombstones: rehash in place size */
  mef3__strmap_slot *ns = mef3__calloc(nc, sizeof *ns);
  if (!ns)
    return MEF3_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    mef3__strmap_slot *s = &m->slots[i];
    if (!s->key || s->key == TOMB)
      continue;
    size_t j = hash(s->key) & (nc - 1);
    while (ns[j].key)
      j = (j + 1) & (nc - 1);
    ns[j] = *s;
  }
  mef3__free(m->slots);
  m->slots = ns;
  m->cap = nc;
  m->tombs = 0;
  return 0;
}

int mef3__strmap_put(mef3__strmap *m, const char *key, void *value,
                     void **old) {
  if (old)
    *old = NULL;
  mef3__strmap_slot *s = find(m, key);
  if (s) {
    if (old)
      *old = s->value;
    s->value = value;
    return 0;
  }
  if ((m->used + m->tombs + 1) * 4 > m->cap * 3 && grow(m))
    return MEF3_ENOMEM;
  char *k = mef3__strdup(key);
  if (!k)
    return MEF3_ENOMEM;
  size_t mask = m->cap - 1;
  size_t i = hash(key) & mask;
  while (m->slots[i].key && m->slots[i].key != TOMB)
    i = (i + 1) & mask;
  if (m->slots[i].key == TOMB)
    m->tombs--;
  m->slots[i].key = k;
  m->slots[i].value = value;
  m->used++;
  return 0;
}

void *mef3__strmap_del(mef3__strmap *m, const char *key) {
  mef3__strmap_slot *s = find(m, key);
  if (!s)
    return NULL;
  void *v = s->value;
  mef3__free(s->key);
  s->key = TOMB;
  s->value = NULL;
  m->used--;
  m->tombs++;
  return v;
}

void mef3__strmap_dispose(mef3__strmap *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].key != TOMB)
      mef3__free(m->slots[i].key);
  mef3__free(m->slots);
  memset(m, 0, sizeof *m);
}

int mef3__strmap_next(const mef3__strmap *m, size_t *it, const char **key,
                      void **value) {
  while (*it < m->cap) {
    mef3__strmap_slot *s = &m->slots[(*it)++];
    if (s->key && s->key != TOMB) {
      *key = s->key;
      *value = s->value;
      return 1;
    }
  }
  return 0;
}
