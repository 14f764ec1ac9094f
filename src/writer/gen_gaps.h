/* writer/gen_gaps.h - where a generated session's gaps go (internal to
 * writer/gen.c; see gen_gaps.c). */
#ifndef MEF3_WRITER_GEN_GAPS_H
#define MEF3_WRITER_GEN_GAPS_H

#include "mef3pool/gen.h"

/* The sample slots [k0, k1) of one gap; slot k is at start + k/fs. */
typedef struct mef3__gen_span {
  int64_t k0, k1;
} mef3__gen_span;

/*
 * Place the gaps of `o` (its given gaps and `n_random_gaps` more drawn
 * from its seed) on a recording of `n_slots` slots: into *out (the
 * caller's, mef3__free), sorted, each with at least one sample before,
 * after and between, *n being exactly o->n_gaps + o->n_random_gaps.
 * 0, MEF3_EINVAL (a gap that cannot be placed; the message says which
 * and why), MEF3_ENOMEM.
 */
int mef3__gen_plan_gaps(mef3__gen_span **out, size_t *n,
                        const mef3_gen_options *o, int64_t n_slots);

#endif
