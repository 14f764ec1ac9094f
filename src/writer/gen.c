/*
 * writer/gen.c - generated sessions (mef3_gen_session): synthesizers for
 * every channel feeding one writer.
 *
 * The recording is processed in chunks of a few seconds.  For a chunk,
 * every channel gets its samples from its synthesizer, NaN in the slots
 * that fall in a gap, and goes to the writer as float values, which turns
 * the NaN runs into discontinuities.  Slot k of the session is at
 * start + round(k * 1e6 / fs), the same grid the writer uses, and a gap
 * [g0, g1) µs covers the slots whose times fall in it (gen_gaps.c places
 * the gaps, every one asked for, or refuses the options).  Segment changes
 * happen at chunk boundaries (every channel at once).
 *
 * Two threads share the work: a producer thread synthesizes chunk i + 1
 * into one of two buffers while the caller's thread encodes and writes
 * chunk i from the other (a mutex and a condition variable hand the
 * buffers over; the writer itself is only ever touched by the caller's
 * thread).  When a thread cannot be started, the caller's thread does
 * both.  The output does not depend on this: the synthesizers depend on
 * the seed only, and so do the random gaps and the writer's UUIDs.
 */
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/gen.h"
#include "util/error.h"
#include "util/alloc.h"
#include "writer/gen_gaps.h"
#include "util/version.h"

#define DEFAULT_START 1609459200000000LL /* 2021-01-01T00:00:00Z */
#define CHUNK_SECONDS 4.0

/* The chunk that starts at slot k ends here (exclusive). */
static int64_t chunk_end(int64_t k, int64_t chunk, int64_t n_slots,
                         int64_t seg_slots) {
  int64_t end = k + chunk;
  if (end > n_slots)
    end = n_slots;
  if (seg_slots) {
    int64_t seg_end = (k / seg_slots + 1) * seg_slots;
    if (end > seg_end)
      end = seg_end;
  }
  return end;
}

/* Producer state: two buffers of n_channels * chunk values. */
typedef struct producer {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mef3_synth **syn;
  size_t n_ch, chunk;
  int64_t n_slots, seg_slots;
  const mef3__gen_span *gaps;
  size_t n_gaps;
  double *buf[2];
  int64_t k0[2], k1[2]; /* slots held by buffer i */
  int full[2];
  int stop;
} producer;

/* Fill `buf` with slots [k, end) of every channel, NaN in the gaps. */
static void synthesize(producer *p, double *buf, int64_t k, int64_t end) {
  size_t m = (size_t)(end - k);
  for (size_t c = 0; c < p->n_ch; c++) {
    double *b = buf + c * p->chunk;
    mef3_synth_fill(p->syn[c], b, m);
    for (size_t g = 0; g < p->n_gaps; g++) {
      int64_t a = p->gaps[g].k0 > k ? p->gaps[g].k0 : k;
      int64_t z = p->gaps[g].k1 < end ? p->gaps[g].k1 : end;
      for (int64_t j = a; j < z; j++)
        b[j - k] = NAN;
    }
  }
}

static void *produce(void *arg) {
  producer *p = arg;
  int64_t k = 0;
  for (int i = 0; k < p->n_slots; i ^= 1) {
    pthread_mutex_lock(&p->mu);
    while (p->full[i] && !p->stop)
      pthread_cond_wait(&p->cv, &p->mu);
    int stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    if (stop)
      break;
    int64_t end = chunk_end(k, (int64_t)p->chunk, p->n_slots, p->seg_slots);
    synthesize(p, p->buf[i], k, end);
    pthread_mutex_lock(&p->mu);
    p->k0[i] = k;
    p->k1[i] = end;
    p->full[i] = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    k = end;
  }
  return NULL;
}

static int remove_entry(const char *p, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

/* A failed generation leaves nothing that looks like a session: the
 * directory it created (or found empty) goes, with what was written.  (A
 * generation stopped by its callback keeps the valid, shorter session.) */
static void remove_session(const char *path) {
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The options' own checks (not the gaps'); `path` names the session. */
static int check_options(const mef3_gen_options *o, const char *path) {
  if (!o)
    return mef3__error(MEF3_EINVAL, "gen options missing");
  if (mef3__version_check("mef3_gen_options", o->version,
                          MEF3_GEN_OPTIONS_VERSION))
    return MEF3_EINVAL;
  if (o->n_channels < 1 || o->n_channels > 100000 || !(o->fs > 0) ||
      !isfinite(o->fs) || o->duration_us <= 0 || o->block_seconds < 0 ||
      !isfinite(o->block_seconds) || (o->n_gaps && !o->gaps) ||
      o->segment_us < 0 || !isfinite(o->units_conversion_factor))
    return mef3__error(MEF3_EINVAL, "%s: invalid generator options",
                       path ? path : "(null)");
  return 0;
}

static int64_t session_slots(const mef3_gen_options *o) {
  int64_t n = (int64_t)llround((double)o->duration_us * o->fs / 1e6);
  return n < 1 ? 1 : n;
}

int mef3_gen_check_options(const mef3_gen_options *o) {
  int rc = check_options(o, "gen");
  mef3__gen_span *g = NULL;
  size_t n;
  if (!rc)
    rc = mef3__gen_plan_gaps(&g, &n, o, session_slots(o));
  mef3__free(g);
  return rc;
}

/* The writer's options for a generated session. */
static void writer_options(mef3_writer_options *wo, const mef3_gen_options *o) {
  *wo = (mef3_writer_options)MEF3_WRITER_OPTIONS_INIT;
  wo->level_1_password = o->level_1_password;
  wo->level_2_password = o->level_2_password;
  wo->data_encryption = o->data_encryption;
  wo->rto_mode = MEF3_RTO_AUTO;
  wo->gmt_offset = 0;
  wo->uuid_seed = o->seed ^ 0x55554D4944533344ull; /* never 0 in practice */
  if (!wo->uuid_seed)
    wo->uuid_seed = 1;
  /* Bulk writing: metadata every 1000 blocks of a channel is plenty. */
  wo->checkpoint_blocks = o->checkpoint_blocks ? o->checkpoint_blocks : 1000;
  wo->io_buffer_bytes = 64 * 1024; /* bulk writing: fewer system calls */
  wo->session_description = "EEG-like data generated by mef3pool gen";
  wo->subject_id = "synthetic";
}

/* Channels ch01, ch02, ... (wider past 99) and a synthesizer for each. */
static int add_channels(mef3_writer *w, mef3_synth **syn,
                        const mef3_gen_options *o, int64_t start) {
  double ufact = o->units_conversion_factor ? o->units_conversion_factor : 0.1;
  double bsec = o->block_seconds ? o->block_seconds : 1.0;
  double bs = round(bsec * o->fs);
  if (bs < 1)
    bs = 1;
  int width = 2;
  for (size_t x = o->n_channels; x >= 100; x /= 10)
    width++;
  int rc = 0;
  for (size_t c = 0; !rc && c < o->n_channels; c++) {
    char name[32];
    snprintf(name, sizeof name, "ch%0*u", width & 15, (unsigned)(c + 1));
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    co.name = name;
    co.fs = o->fs;
    co.start_uutc = start;
    co.units_description = "uV";
    co.units_conversion_factor = ufact;
    co.block_samples = (uint32_t)bs;
    co.channel_description = "EEG-like synthetic channel";
    co.reference_description = "common average (synthetic)";
    co.acquisition_channel_number = (int64_t)c + 1;
    co.low_frequency_filter = 0.1;
    co.high_frequency_filter = o->fs / 4;
    co.ac_line_frequency = 60;
    size_t idx;
    rc = mef3_writer_add_channel(&idx, w, &co);
    if (!rc)
      rc = mef3_synth_new(&syn[c], o->seed, c, o->n_channels, o->fs);
  }
  return rc;
}

/* The session's notes: what made it, and one per gap. */
static int add_notes(mef3_writer *w, const mef3_gen_options *o, int64_t start,
                     const mef3__gen_span *gaps, size_t n_gaps) {
  char text[128];
  snprintf(text, sizeof text,
           "generated by mef3pool gen: %zu channels at %g Hz, seed %llu",
           o->n_channels, o->fs, (unsigned long long)o->seed);
  int rc = mef3_writer_add_note(w, MEF3_WRITER_SESSION, start, text);
  for (size_t i = 0; !rc && i < n_gaps; i++) {
    int64_t t0 = llround((double)gaps[i].k0 * 1e6 / o->fs);
    int64_t t1 = llround((double)gaps[i].k1 * 1e6 / o->fs);
    snprintf(text, sizeof text, "recording paused for %.3f s",
             (double)(t1 - t0) / 1e6);
    rc = mef3_writer_add_note(w, MEF3_WRITER_SESSION, start + t0, text);
  }
  return rc;
}

/* Start the producer thread; 0 when it could not (then the writing loop
 * synthesizes in place). */
static int producer_start(producer *p, pthread_t *thread) {
  int threaded = 0;
  if (pthread_mutex_init(&p->mu, NULL) == 0) {
    if (pthread_cond_init(&p->cv, NULL) == 0) {
      threaded = pthread_create(thread, NULL, produce, p) == 0;
      if (!threaded)
        pthread_cond_destroy(&p->cv);
    }
    if (!threaded)
      pthread_mutex_destroy(&p->mu);
  }
  return threaded;
}

static void producer_stop(producer *p, pthread_t thread) {
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(thread, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
}

/* Write every slot, buffer after buffer (from the producer when
 * `threaded`), a new segment every seg_slots, progress to `cb`.  *k is the
 * slots written per channel. */
static int write_slots(mef3_writer *w, producer *p, int threaded,
                       const char *path, mef3_gen_progress_cb cb,
                       void *payload, int64_t *k_out) {
  int64_t k = 0;
  int last_pct = -1, rc = 0;
  for (int i = 0; !rc && k < p->n_slots; i ^= 1) {
    int64_t end;
    if (threaded) {
      pthread_mutex_lock(&p->mu);
      while (!p->full[i])
        pthread_cond_wait(&p->cv, &p->mu);
      end = p->k1[i];
      pthread_mutex_unlock(&p->mu);
    } else {
      end = chunk_end(k, (int64_t)p->chunk, p->n_slots, p->seg_slots);
      synthesize(p, p->buf[i], k, end);
    }
    size_t m = (size_t)(end - k);
    for (size_t c = 0; !rc && c < p->n_ch; c++)
      rc = mef3_writer_write_f64(w, c, MEF3_UUTC_NO_ENTRY,
                                 p->buf[i] + c * p->chunk, m);
    if (threaded) {
      pthread_mutex_lock(&p->mu);
      p->full[i] = 0;
      pthread_cond_broadcast(&p->cv);
      pthread_mutex_unlock(&p->mu);
    }
    k = end;
    if (!rc && p->seg_slots && k % p->seg_slots == 0 && k < p->n_slots)
      rc = mef3_writer_new_segment(w, MEF3_WRITER_ALL_CHANNELS);
    int pct = (int)(100.0 * (double)k / (double)p->n_slots);
    if (!rc && cb && pct != last_pct) {
      last_pct = pct;
      if (cb((double)k / (double)p->n_slots, payload))
        rc = mef3__error(MEF3_ECANCELED, "%s: generation stopped", path);
    }
  }
  *k_out = k;
  return rc;
}

int mef3_gen_session(mef3_gen_result *out, const char *path,
                     const mef3_gen_options *o, mef3_gen_progress_cb cb,
                     void *payload) {
  mef3_gen_result res = {0, 0, 0, 0, 0};
  if (out)
    *out = res;
  int rc = check_options(o, path);
  if (rc)
    return rc;
  int64_t start = o->start_uutc ? o->start_uutc : DEFAULT_START;
  int64_t n_slots = session_slots(o);
  mef3_writer_options wo;
  writer_options(&wo, o);

  mef3__gen_span *gaps = NULL;
  size_t n_gaps = 0;
  mef3_synth **syn = mef3__calloc(o->n_channels, sizeof *syn);
  size_t chunk = (size_t)ceil(CHUNK_SECONDS * o->fs);
  if (chunk < 1)
    chunk = 1;
  double *buf = mef3__malloc(2 * o->n_channels * chunk * sizeof *buf);
  mef3_writer *w = NULL;
  rc = (!syn || !buf) ? mef3__error(MEF3_ENOMEM, "out of memory") : 0;
  if (!rc)
    rc = mef3__gen_plan_gaps(&gaps, &n_gaps, o, n_slots);
  if (!rc)
    rc = mef3_writer_open(&w, path, &wo);
  if (!rc)
    rc = add_channels(w, syn, o, start);
  if (!rc)
    rc = add_notes(w, o, start, gaps, n_gaps);

  int64_t seg_slots =
      o->segment_us ? (int64_t)llround((double)o->segment_us * o->fs / 1e6) : 0;
  producer p;
  memset(&p, 0, sizeof p);
  p.syn = syn;
  p.n_ch = o->n_channels;
  p.chunk = chunk;
  p.n_slots = n_slots;
  p.seg_slots = seg_slots < 0 ? 0 : seg_slots;
  p.gaps = gaps;
  p.n_gaps = n_gaps;
  p.buf[0] = buf;
  p.buf[1] = buf ? buf + o->n_channels * chunk : NULL;
  pthread_t thread;
  int threaded = !rc && producer_start(&p, &thread);
  int64_t k = 0;
  if (!rc)
    rc = write_slots(w, &p, threaded, path, cb, payload, &k);
  if (threaded)
    producer_stop(&p, thread);
  res.slots = k * (int64_t)o->n_channels;
  if (w) {
    if (!rc)
      rc = mef3_writer_flush(w, MEF3_WRITER_ALL_CHANNELS);
    mef3_writer_stats st;
    mef3_writer_get_stats(&st, w);
    res.samples = st.samples;
    res.blocks = st.blocks;
    res.bytes = st.bytes;
    int rc2 = mef3_writer_close(w);
    if (!rc)
      rc = rc2;
    if (rc && rc != MEF3_ECANCELED) {
      /* Keep the message of the failure, not of the clean-up. */
      mef3_error e = *mef3_error_last();
      remove_session(path);
      mef3__error(e.code, "%s", e.message);
    }
  }
  if (syn)
    for (size_t c = 0; c < o->n_channels; c++)
      mef3_synth_free(syn[c]);
  mef3__free(syn);
  mef3__free(buf);
  mef3__free(gaps);
  res.n_gaps = n_gaps;
  if (out)
    *out = res;
  return rc;
}
