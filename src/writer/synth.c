/*
 * writer/synth.c - EEG-like signal synthesis (mef3_synth_*).
 *
 * One synthesizer makes one channel, sample by sample, as the sum of:
 *   - a 1/f background: five first-order autoregressive processes with
 *     corner frequencies a factor of three apart (0.5 to 40.5 Hz) and equal
 *     variance up to the alpha band, i.e. equal power per band, which is a
 *     1/f spectrum, falling faster above it as scalp EEG does; part of
 *     each process comes from sources common to all channels, part from
 *     the channel's own (weights vary per channel);
 *   - an alpha rhythm (8.5-11.5 Hz): a common oscillator with a slowly
 *     wandering envelope, scaled by how "posterior" the channel is (its
 *     index) and shifted by a small per-channel phase;
 *   - common events: spike-and-wave discharges around a focus channel and
 *     eye blinks on the first (frontal) channels, each channel scaled by
 *     its distance to the source;
 *   - channel events: muscle bursts (broadband noise for 0.5-2 s) and
 *     electrode pops (a step that decays);
 *   - 60 Hz line noise (when fs > 130 Hz) and white amplifier noise.
 *
 * Every channel runs its own copy of the common generators (seeded from
 * the seed alone) and draws from them in a fixed pattern, so the common
 * sources are identical in every channel without any shared state; the
 * output is a pure function of (seed, channel, count, rate), independent
 * of how the samples are requested.  Random numbers come from xoshiro256**
 * streams; "Gaussian" noise is the sum of two 16-bit uniforms (a
 * triangular law, which the filters smooth into a bell).  Oscillators
 * advance by complex rotation and are renormalized every 1024 samples, so
 * the inner loop needs no transcendental functions except during events.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/gen.h"
#include "util/error.h"
#include "util/alloc.h"

#define N_BANDS 5
#define TWO_PI 6.283185307179586

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in (0, 1]. */
static inline double rng_u01(rng *r) {
  return ((double)(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Two unit-variance noise values from one draw: sums of two 16-bit
 * uniforms, centred (variance of one sum: 2 * (65536^2 - 1) / 12).  The
 * sums go through int32 because int -> double is one instruction. */
#define NOISE_SCALE (1.0 / 26754.74)
static inline void rng_noise2(rng *r, double *a, double *b) {
  uint64_t x = rng_next(r);
  int32_t p = (int32_t)((x & 0xffff) + ((x >> 16) & 0xffff)) - 65535;
  int32_t q = (int32_t)(((x >> 32) & 0xffff) + (x >> 48)) - 65535;
  *a = (double)p * NOISE_SCALE;
  *b = (double)q * NOISE_SCALE;
}

/* Samples until the next event of a Poisson process of `rate` per s. */
static int64_t next_gap(rng *r, double rate, double fs) {
  if (rate <= 0)
    return INT64_MAX / 4;
  double g = -log(rng_u01(r)) / rate * fs;
  return g < 1 ? 1 : g > 1e15 ? (int64_t)1e15 : (int64_t)g;
}

typedef struct osc {
  double c, s, cw, sw;
} osc;

static void osc_init(osc *o, double f, double fs, double phase) {
  o->c = cos(phase);
  o->s = sin(phase);
  o->cw = cos(TWO_PI * f / fs);
  o->sw = sin(TWO_PI * f / fs);
}

static inline void osc_step(osc *o) {
  double c = o->c * o->cw - o->s * o->sw;
  o->s = o->c * o->sw + o->s * o->cw;
  o->c = c;
}

static void osc_renorm(osc *o) {
  double m = 1.0 / sqrt(o->c * o->c + o->s * o->s);
  o->c *= m;
  o->s *= m;
}

struct mef3_synth {
  double fs;
  int64_t n; /* samples made */
  rng common_bg, common_ev, own;
  /* background */
  double a[N_BANDS], b[N_BANDS];
  double xc[N_BANDS], xo[N_BANDS];
  double w_common, w_own;
  /* alpha: common oscillator and envelope, channel amplitude and phase */
  osc alpha;
  double env, env_a, env_b;
  double alpha_amp, alpha_cos, alpha_sin;
  /* line noise */
  osc line;
  double line_amp;
  double white;
  /* common events */
  double spike_gain, blink_gain;
  int64_t spike_next, spike_pos, spike_len;
  double spike_amp;
  int64_t blink_next, blink_pos, blink_len;
  double blink_amp;
  /* channel events */
  double muscle_rate;
  int64_t muscle_next, muscle_left;
  double muscle_sigma;
  int64_t pop_next;
  double pop_level, pop_decay;
};

int mef3_synth_new(mef3_synth **out, uint64_t seed, size_t channel,
                   size_t n_channels, double fs) {
  *out = NULL;
  if (channel >= n_channels || !(fs > 0) || !isfinite(fs))
    return mef3__error(MEF3_EINVAL, "synth: channel %zu of %zu at %g Hz",
                       channel, n_channels, fs);
  mef3_synth *s = mef3__calloc(1, sizeof *s);
  if (!s)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  s->fs = fs;
  rng_seed(&s->common_bg, seed, 1);
  rng_seed(&s->common_ev, seed, 2);
  rng_seed(&s->own, seed, 1000 + (uint64_t)channel);
  /* Per-session and per-channel character, from separate streams so that
   * they do not disturb the sample streams. */
  rng sess, chan;
  rng_seed(&sess, seed, 3);
  rng_seed(&chan, seed, 100000 + (uint64_t)channel);
  double pos = n_channels > 1 ? (double)channel / (double)(n_channels - 1)
                              : 0.5; /* 0 frontal .. 1 posterior */

  static const double corner[N_BANDS] = {0.5, 1.5, 4.5, 13.5, 40.5};
  /* Equal variance per band would be exactly 1/f; scalp EEG falls off
   * faster above the alpha band, so the upper bands get less. */
  static const double weight[N_BANDS] = {1.0, 1.0, 0.85, 0.5, 0.25};
  double sigma_bg = 8.0 + 8.0 * rng_u01(&chan); /* µV */
  for (int i = 0; i < N_BANDS; i++) {
    s->a[i] = exp(-TWO_PI * corner[i] / fs);
    s->b[i] = weight[i] * sigma_bg / sqrt(3.0) * sqrt(1 - s->a[i] * s->a[i]);
  }
  s->w_common = 0.55 + 0.3 * rng_u01(&chan);
  s->w_own = sqrt(1 - s->w_common * s->w_common);

  double f_alpha = 8.5 + 3.0 * rng_u01(&sess);
  osc_init(&s->alpha, f_alpha, fs, TWO_PI * rng_u01(&sess));
  s->env = 0.0;
  s->env_a = exp(-TWO_PI * 0.15 / fs);
  s->env_b = sqrt(1 - s->env_a * s->env_a);
  s->alpha_amp = (3.0 + 30.0 * pos * pos) * (0.8 + 0.4 * rng_u01(&chan));
  double ph = 0.6 * (rng_u01(&chan) - 0.5);
  s->alpha_cos = cos(ph);
  s->alpha_sin = sin(ph);

  osc_init(&s->line, 60.0, fs, TWO_PI * rng_u01(&chan));
  s->line_amp = fs > 130.0 ? 0.3 + 1.5 * rng_u01(&chan) : 0.0;
  s->white = 0.4 + 0.4 * rng_u01(&chan);

  /* Spikes around a focus channel; blinks on the frontal fifth. */
  double focus = rng_u01(&sess);
  double d = fabs(pos - focus) * (double)(n_channels > 1 ? n_channels : 1);
  s->spike_gain = exp(-d * d / 8.0);
  s->blink_gain = pos < 0.25 ? 1.0 - 3.5 * pos : 0.0;
  if (s->blink_gain < 0)
    s->blink_gain = 0;
  s->spike_next = next_gap(&s->common_ev, 0.08, fs);
  s->spike_pos = -1;
  s->blink_next = next_gap(&s->common_ev, 0.15, fs);
  s->blink_pos = -1;

  s->muscle_rate = rng_u01(&chan) < 0.4 ? 1.0 / 45.0 : 1.0 / 400.0;
  s->muscle_next = next_gap(&s->own, s->muscle_rate, fs);
  s->muscle_left = 0;
  s->pop_next = next_gap(&s->own, 1.0 / 900.0, fs);
  s->pop_decay = exp(-1.0 / (0.5 * fs));
  *out = s;
  return 0;
}

void mef3_synth_free(mef3_synth *s) {
  mef3__free(s);
}

/* Spike and slow wave, t in seconds since its start (surface negative). */
static double spike_shape(double t) {
  double a = (t - 0.035) / 0.012, b = (t - 0.075) / 0.025,
         c = (t - 0.24) / 0.07;
  return -exp(-a * a) + 0.35 * exp(-b * b) - 0.45 * exp(-c * c);
}

void mef3_synth_fill(mef3_synth *s, double *out, size_t n) {
  /* The hot state lives in locals for the loop: stores to `out` could
   * otherwise alias it and force reloads on every sample. */
  const double fs = s->fs;
  /* The bands, unrolled into scalars (five of them). */
  double c0 = s->xc[0], c1 = s->xc[1], c2 = s->xc[2], c3 = s->xc[3],
         c4 = s->xc[4];
  double o0 = s->xo[0], o1 = s->xo[1], o2 = s->xo[2], o3 = s->xo[3],
         o4 = s->xo[4];
  const double a0 = s->a[0], a1 = s->a[1], a2 = s->a[2], a3 = s->a[3],
               a4 = s->a[4];
  const double b0 = s->b[0], b1 = s->b[1], b2 = s->b[2], b3 = s->b[3],
               b4 = s->b[4];
  const double wc = s->w_common, wo = s->w_own;
  const double env_a = s->env_a, env_b = s->env_b;
  const double alpha_amp = s->alpha_amp, acos_ = s->alpha_cos,
               asin_ = s->alpha_sin, line_amp = s->line_amp, white = s->white;
  double env = s->env;
  osc alpha = s->alpha, line = s->line;
  rng cbg = s->common_bg, own = s->own;
  int64_t nn = s->n;
  for (size_t i = 0; i < n; i++, nn++) {
    double w0, w1, w2, w3, w4, w5, v0, v1, v2, v3, v4, v5;
    rng_noise2(&cbg, &w0, &w1);
    rng_noise2(&cbg, &w2, &w3);
    rng_noise2(&cbg, &w4, &w5);
    rng_noise2(&own, &v0, &v1);
    rng_noise2(&own, &v2, &v3);
    rng_noise2(&own, &v4, &v5);
    c0 = a0 * c0 + b0 * w0;
    c1 = a1 * c1 + b1 * w1;
    c2 = a2 * c2 + b2 * w2;
    c3 = a3 * c3 + b3 * w3;
    c4 = a4 * c4 + b4 * w4;
    o0 = a0 * o0 + b0 * v0;
    o1 = a1 * o1 + b1 * v1;
    o2 = a2 * o2 + b2 * v2;
    o3 = a3 * o3 + b3 * v3;
    o4 = a4 * o4 + b4 * v4;
    double bg = wc * (c0 + c1 + c2 + c3 + c4) + wo * (o0 + o1 + o2 + o3 + o4);
    /* Alpha: envelope in [0, 1] from a slow common process. */
    env = env_a * env + env_b * w5;
    double z = 1.5 * env + 0.3;
    double e = 0.5 + 0.5 * z / (1.0 + fabs(z)); /* a cheap sigmoid */
    osc_step(&alpha);
    osc_step(&line);
    double x = bg + alpha_amp * e * (alpha.c * acos_ - alpha.s * asin_) +
               line_amp * line.c + white * v5;
    if ((nn & 1023) == 1023) {
      osc_renorm(&alpha);
      osc_renorm(&line);
    }

    /* Common events: drawn in every channel alike. */
    if (--s->spike_next <= 0) {
      s->spike_pos = 0;
      s->spike_len = (int64_t)(0.45 * fs) + 1;
      s->spike_amp = 60.0 + 120.0 * rng_u01(&s->common_ev);
      s->spike_next = next_gap(&s->common_ev, 0.08, fs);
    }
    if (s->spike_pos >= 0) {
      if (s->spike_gain > 1e-3)
        x += s->spike_gain * s->spike_amp *
             spike_shape((double)s->spike_pos / fs);
      if (++s->spike_pos >= s->spike_len)
        s->spike_pos = -1;
    }
    if (--s->blink_next <= 0) {
      s->blink_pos = 0;
      s->blink_len = (int64_t)((0.25 + 0.2 * rng_u01(&s->common_ev)) * fs) + 1;
      s->blink_amp = 70.0 + 90.0 * rng_u01(&s->common_ev);
      s->blink_next = next_gap(&s->common_ev, 0.15, fs);
    }
    if (s->blink_pos >= 0) {
      if (s->blink_gain > 0)
        x += s->blink_gain * s->blink_amp * 0.5 *
             (1 - cos(TWO_PI * (double)s->blink_pos / (double)s->blink_len));
      if (++s->blink_pos >= s->blink_len)
        s->blink_pos = -1;
    }

    /* Channel events. */
    if (--s->muscle_next <= 0) {
      s->muscle_left = (int64_t)((0.5 + 1.5 * rng_u01(&own)) * fs) + 1;
      s->muscle_sigma = 4.0 + 16.0 * rng_u01(&own);
      s->muscle_next = next_gap(&own, s->muscle_rate, fs);
    }
    if (s->muscle_left > 0) {
      x += s->muscle_sigma * v4 * 1.7;
      s->muscle_left--;
    }
    if (--s->pop_next <= 0) {
      double u = rng_u01(&own);
      s->pop_level += (u < 0.5 ? -1 : 1) * (50.0 + 300.0 * u);
      s->pop_next = next_gap(&own, 1.0 / 900.0, fs);
    }
    if (s->pop_level != 0) {
      x += s->pop_level;
      s->pop_level *= s->pop_decay;
      if (fabs(s->pop_level) < 1e-3)
        s->pop_level = 0;
    }
    out[i] = x;
  }
  s->xc[0] = c0;
  s->xc[1] = c1;
  s->xc[2] = c2;
  s->xc[3] = c3;
  s->xc[4] = c4;
  s->xo[0] = o0;
  s->xo[1] = o1;
  s->xo[2] = o2;
  s->xo[3] = o3;
  s->xo[4] = o4;
  s->env = env;
  s->alpha = alpha;
  s->line = line;
  s->common_bg = cbg;
  s->own = own;
  s->n = nn;
}
