/* Streaming MFCC: see kws_mfcc.h. */
#define KWS_FEATURE_SPEC_TABLES
#include "kws_mfcc.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HALF (KWS_N_FFT / 2)

/* 10*log10(x) for x >= KWS_LOG_FLOOR > 0, in float arithmetic only (no libm call).
 *
 * Why not log10f(): newlib's and glibc's log10f differ in the last bit now and then, and that bit can
 * move an int8 feature by one step. With this function (and -ffp-contract=off in the board flags, so
 * no fused multiply-adds) the board, the QEMU image and the host build compute the same bits, so the
 * host's streaming evaluation is exactly what the board computes. Accuracy: within a few float ulps
 * of the true value (x = m * 2^e with m in [sqrt(1/2), sqrt(2)); ln m by the atanh series to s^9,
 * whose next term is below 4e-10 since |s| <= 0.1716).
 */
static float db10(float x) {
    union {
        float f;
        uint32_t u;
    } v = {x};
    int e = (int)((v.u >> 23) & 0xFFu) - 127;
    v.u = (v.u & 0x007FFFFFu) | 0x3F800000u; /* mantissa in [1, 2) */
    float m = v.f;
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float series = 1.0f + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f + s2 * 0.111111111f)));
    float ln_m = 2.0f * s * series;
    /* 10*log10(x) = (10/ln 10) * (e ln 2 + ln m) */
    return 4.34294482f * ((float)e * 0.693147181f + ln_m);
}

static int log2_int(int n) {
    int b = 0;
    while ((1 << b) < n) b++;
    return b;
}

void kws_mfcc_reset(kws_mfcc_t *m) {
    m->filled = 0;
}

void kws_mfcc_init(kws_mfcc_t *m) {
    int bits = log2_int(HALF);
    for (int i = 0; i < HALF; i++) {
        /* Twiddles of the n_fft-point transform, computed in double once. */
        double a = -2.0 * 3.14159265358979323846 * (double)i / (double)KWS_N_FFT;
        m->tw_re[i] = (float)cos(a);
        m->tw_im[i] = (float)sin(a);
        unsigned r = 0, x = (unsigned)i;
        for (int b = 0; b < bits; b++) {
            r = (r << 1) | (x & 1u);
            x >>= 1;
        }
        m->bitrev[i] = (uint16_t)r;
    }
    kws_mfcc_reset(m);
}

/* In-place radix-2 complex FFT of HALF points (input already bit-reversed). */
static void fft_half(kws_mfcc_t *m) {
    float *re = m->work_re, *im = m->work_im;
    /* First stage: every twiddle is 1, so the butterflies are plain sums (same results, fewer instructions). */
    for (int a = 0; a < HALF; a += 2) {
        float ar = re[a], ai = im[a], br = re[a + 1], bi = im[a + 1];
        re[a + 1] = ar - br;
        im[a + 1] = ai - bi;
        re[a] = ar + br;
        im[a] = ai + bi;
    }
    for (int len = 4; len <= HALF; len <<= 1) {
        int step = KWS_N_FFT / len; /* twiddle stride in the n_fft table */
        int half = len >> 1;
        for (int k = 0; k < half; k++) {
            /* Twiddle outermost: loaded once per k instead of once per butterfly. */
            float wr = m->tw_re[k * step], wi = m->tw_im[k * step];
            for (int a = k; a < HALF; a += len) {
                int b = a + half;
                /* Load all four first: re and im may alias as far as the compiler knows. */
                float ar = re[a], ai = im[a], br = re[b], bi = im[b];
                float tr = br * wr - bi * wi;
                float ti = br * wi + bi * wr;
                re[b] = ar - tr;
                im[b] = ai - ti;
                re[a] = ar + tr;
                im[a] = ai + ti;
            }
        }
    }
}

void kws_mfcc_compute_frame(kws_mfcc_t *m, const float *frame, float *mfcc_out) {
    /* Windowed frame packed as HALF complex points z[k] = x[2k] + i x[2k+1], stored bit-reversed.
     * Only the window's samples are non-zero, so only they are multiplied. */
    memset(m->work_re, 0, sizeof(m->work_re));
    memset(m->work_im, 0, sizeof(m->work_im));
#if (KWS_WIN_OFFSET % 2) == 0 && (KWS_WIN_LENGTH % 2) == 0
    for (int n = KWS_WIN_OFFSET; n < KWS_WIN_OFFSET + KWS_WIN_LENGTH; n += 2) {
        int r = m->bitrev[n >> 1];
        m->work_re[r] = frame[n] * kws_window[n - KWS_WIN_OFFSET];
        m->work_im[r] = frame[n + 1] * kws_window[n + 1 - KWS_WIN_OFFSET];
    }
#else
    for (int n = KWS_WIN_OFFSET; n < KWS_WIN_OFFSET + KWS_WIN_LENGTH; n++) {
        float v = frame[n] * kws_window[n - KWS_WIN_OFFSET];
        if (n & 1)
            m->work_im[m->bitrev[n >> 1]] = v;
        else
            m->work_re[m->bitrev[n >> 1]] = v;
    }
#endif
    fft_half(m);
    /* Split into the spectrum of the real 2*HALF-point signal: X[k] = E[k] + W^k O[k]. */
    for (int k = 0; k <= HALF; k++) {
        int k1 = k & (HALF - 1), k2 = (HALF - k) & (HALF - 1); /* HALF is a power of two */
        float zr = m->work_re[k1], zi = m->work_im[k1];
        float cr = m->work_re[k2], ci = -m->work_im[k2]; /* conj(Z[N/2 - k]) */
        float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        float or_ = 0.5f * (zi - ci), oi = -0.5f * (zr - cr); /* (Z - conj)/(2i) */
        float wr, wi;
        if (k < HALF) {
            wr = m->tw_re[k];
            wi = m->tw_im[k];
        } else {
            wr = -1.0f;
            wi = 0.0f;
        }
        float xr = er + (or_ * wr - oi * wi);
        float xi = ei + (or_ * wi + oi * wr);
        float p = xr * xr + xi * xi;
#if KWS_POWER == 1
        p = sqrtf(p);
#endif
        m->power[k] = p;
    }
    float logmel[KWS_N_MELS];
    for (int b = 0; b < KWS_N_MELS; b++) {
        const float *w = &kws_mel_weights[kws_mel_offset[b]];
        const float *p = &m->power[kws_mel_start[b]];
        float acc = 0.0f;
        for (int j = 0; j < kws_mel_count[b]; j++) acc += w[j] * p[j];
        if (acc < KWS_LOG_FLOOR) acc = KWS_LOG_FLOOR;
        logmel[b] = db10(acc);
    }
    for (int c = 0; c < KWS_N_MFCC; c++) {
        const float *d = &kws_dct[c * KWS_N_MELS];
        float acc = 0.0f;
        for (int b = 0; b < KWS_N_MELS; b++) acc += d[b] * logmel[b];
        mfcc_out[c] = acc;
    }
}

int kws_mfcc_push(kws_mfcc_t *m, const int16_t *pcm, size_t n, float *out, int max_frames) {
    int produced = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->filled == KWS_N_FFT) {
            /* Slide by one hop once a full hop of new samples is due. */
            memmove(m->frame, m->frame + KWS_HOP_LENGTH, sizeof(float) * (KWS_N_FFT - KWS_HOP_LENGTH));
            m->filled = KWS_N_FFT - KWS_HOP_LENGTH;
        }
        m->frame[m->filled++] = (float)pcm[i] * (1.0f / 32768.0f);
        if (m->filled == KWS_N_FFT) {
            if (produced < max_frames) {
                kws_mfcc_compute_frame(m, m->frame, out + (size_t)produced * KWS_N_MFCC);
                produced++;
            }
        }
    }
    return produced;
}
