/*
 * kws_nn_gemm.c - convolutions as small matrix products: the general convolution (im2col) and the
 * 1x1 convolution, which share one inner product kernel over four output pixels at a time.
 *
 * Both kernels first write the int16 inputs of four pixels into scratch, interleaved by pair:
 * word [kp * 4 + pix] holds inputs 2kp and 2kp+1 of pixel pix (im2col order for the general
 * convolution, SXTB16 order for the 1x1 one; the generator arranged the weights to match, see
 * the gemm layout in kws_nn.h). On the DSP path a block of 2 output channels x 4 pixels keeps 8
 * accumulators: per input pair one LDRD brings the pair's weights of both channels, two LDRDs
 * the pair of the four pixels, and eight SMLADs do sixteen multiply-accumulates (11 instructions,
 * against 14 for a 2 x 2 block with its loop counter). That takes all 14 usable registers, so
 * there is none left for a counter: the pair loop is unrolled 32 times and entered part way
 * (a computed jump), which also removes the loop's own instructions.
 */
#include <string.h>

#include "kws_nn_internal.h"

#if KWS_NN_DSP && defined(__GNUC__) && !defined(__clang__)
/* The hot loop of the whole network runs here; -O2 (scheduling, no size-driven spills) is worth it
 * even in the board's -Os build. */
#pragma GCC optimize("O2")
#endif

enum { PIX = 4 };

#if KWS_NN_DSP
enum { UNROLL = 32, STEP_BYTES = 44 }; /* pairs per entry into the unrolled loop; bytes per step */

/*
 * a0..a3 += pixels 0..3 of x . channel c's pairs, b0..b3 the same for channel c+1, over n pairs
 * (entry = n * STEP_BYTES, n <= UNROLL); w: the block's weight words ([k][2]), x: the interleaved
 * pixels ([k][4]); both pointers advance past the pairs.
 */
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
#define DOT_4X2(entry)                                                                                            \
    do {                                                                                                          \
        uint32_t w0_ = (entry), w1_, xa_, xb_;                                                                    \
        __asm volatile("adr.w %[w1], 2f\n\t"                                                                      \
                       "sub %[w1], %[w1], %[w0]\n\t"                                                              \
                       "mov pc, %[w1]\n\t"                                                                        \
                       ".rept 32\n\t"                                                                             \
                       "ldrd %[w0], %[w1], [%[w]], #8\n\t"                                                        \
                       "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
                       "smlad %[a0], %[xa], %[w0], %[a0]\n\t"                                                     \
                       "smlad %[a1], %[xb], %[w0], %[a1]\n\t"                                                     \
                       "smlad %[b0], %[xa], %[w1], %[b0]\n\t"                                                     \
                       "smlad %[b1], %[xb], %[w1], %[b1]\n\t"                                                     \
                       "ldrd %[xa], %[xb], [%[x]], #8\n\t"                                                        \
                       "smlad %[a2], %[xa], %[w0], %[a2]\n\t"                                                     \
                       "smlad %[a3], %[xb], %[w0], %[a3]\n\t"                                                     \
                       "smlad %[b2], %[xa], %[w1], %[b2]\n\t"                                                     \
                       "smlad %[b3], %[xb], %[w1], %[b3]\n\t"                                                     \
                       ".endr\n"                                                                                  \
                       "2:\n\t"                                                                                  \
                       : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [b0] "+r"(b0), [b1] "+r"(b1), \
                         [b2] "+r"(b2), [b3] "+r"(b3), [x] "+r"(x), [w] "+r"(w), [w0] "+r"(w0_), [w1] "=&r"(w1_),   \
                         [xa] "=&r"(xa_), [xb] "=&r"(xb_)                                                          \
                       :                                                                                          \
                       : "memory");                                                                               \
    } while (0)
#else
#define DOT_4X2(entry)                                                                                  \
    do {                                                                                                \
        for (int k_ = 0; k_ < (int)((entry) / STEP_BYTES); k_++, x += 4, w += 2) {                      \
            a0 = kws_smlad(x[0], w[0], a0), a1 = kws_smlad(x[1], w[0], a1);                             \
            a2 = kws_smlad(x[2], w[0], a2), a3 = kws_smlad(x[3], w[0], a3);                             \
            b0 = kws_smlad(x[0], w[1], b0), b1 = kws_smlad(x[1], w[1], b1);                             \
            b2 = kws_smlad(x[2], w[1], b2), b3 = kws_smlad(x[3], w[1], b3);                             \
        }                                                                                               \
    } while (0)
#endif
#endif

/* Output channels [0, out_c) of the four pixels of scratch s16 (kp pairs) into o[0..3] (may repeat). */
static void gemm4(const int16_t *weights, int kp, int out_c, const kws_nn_quant_t *q, const int16_t *s16,
                  int8_t *const o[PIX]) {
    const int blocks = out_c / 2;
#if KWS_NN_DSP
    const uint32_t *s = (const uint32_t *)(const void *)s16;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    const int fast = q->fast_add != NULL;
    const int full_range = q->act_min <= -128 && q->act_max >= 127;
    int8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
    /* The first entry takes kp mod 32 pairs (32 if none), every further one 32. */
    const int more = (kp - 1) / UNROLL;
    const uint32_t entry0 = (uint32_t)(kp - more * UNROLL) * STEP_BYTES;
    for (int c = 0; c < 2 * blocks; c += 2) {
        int32_t a0 = q->bias[c], b0 = q->bias[c + 1];
        int32_t a1 = a0, a2 = a0, a3 = a0, b1 = b0, b2 = b0, b3 = b0;
        const uint32_t *x = s;
        DOT_4X2(entry0);
        for (int k = 0; k < more; k++) DOT_4X2(UNROLL * STEP_BYTES);
        if (fast && full_range) {
            const int32_t m0 = q->mult[c], ad0 = q->fast_add[c], s0 = -q->shift[c];
            const int32_t m1 = q->mult[c + 1], ad1 = q->fast_add[c + 1], s1 = -q->shift[c + 1];
            /* Pixels in reverse: a repeated last pixel (o3 == o2 ...) gets the same value anyway. */
            o3[c] = (int8_t)kws_ssat8(kws_smmlar(a3 + a3, m0, ad0) >> s0);
            o3[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b3 + b3, m1, ad1) >> s1);
            o2[c] = (int8_t)kws_ssat8(kws_smmlar(a2 + a2, m0, ad0) >> s0);
            o2[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b2 + b2, m1, ad1) >> s1);
            o1[c] = (int8_t)kws_ssat8(kws_smmlar(a1 + a1, m0, ad0) >> s0);
            o1[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b1 + b1, m1, ad1) >> s1);
            o0[c] = (int8_t)kws_ssat8(kws_smmlar(a0 + a0, m0, ad0) >> s0);
            o0[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b0 + b0, m1, ad1) >> s1);
        } else {
            const int32_t a[PIX] = {a0, a1, a2, a3}, b[PIX] = {b0, b1, b2, b3};
            for (int p = PIX - 1; p >= 0; p--) {
                if (fast) {
                    o[p][c] = kws_requant_fast(a[p], q->mult[c], q->fast_add[c], -q->shift[c], q->act_min, q->act_max);
                    o[p][c + 1] =
                        kws_requant_fast(b[p], q->mult[c + 1], q->fast_add[c + 1], -q->shift[c + 1], q->act_min, q->act_max);
                } else {
                    o[p][c] = kws_requant_ref(q, c, a[p]);
                    o[p][c + 1] = kws_requant_ref(q, c + 1, b[p]);
                }
            }
        }
    }
    if (out_c & 1) {
        const int c = out_c - 1;
        int32_t acc[PIX];
        for (int p = 0; p < PIX; p++) acc[p] = q->bias[c];
        for (int k = 0; k < kp; k++) {
            for (int p = 0; p < PIX; p++) acc[p] = kws_smlad(s[PIX * k + p], w[k], acc[p]);
        }
        for (int p = PIX - 1; p >= 0; p--) o[p][c] = kws_requant_ref(q, c, acc[p]);
    }
#else
    for (int oc = 0; oc < out_c; oc++) {
        /* Int16 index of (oc, pair 0) and the step between pairs in the gemm layout. */
        const int b = oc / 2;
        size_t base, step;
        if (b < blocks) {
            base = ((size_t)b * kp * 2 + (size_t)(oc & 1)) * 2;
            step = 4;
        } else {
            base = (size_t)blocks * kp * 4;
            step = 2;
        }
        int32_t acc[PIX];
        for (int p = 0; p < PIX; p++) acc[p] = q->bias[oc];
        for (int k = 0; k < kp; k++) {
            const int16_t *wk = weights + base + (size_t)k * step;
            const int16_t *x = s16 + 2 * PIX * k;
            for (int p = 0; p < PIX; p++) acc[p] += (int32_t)x[2 * p] * wk[0] + (int32_t)x[2 * p + 1] * wk[1];
        }
        for (int p = PIX - 1; p >= 0; p--) o[p][oc] = kws_requant_ref(q, oc, acc[p]);
    }
#endif
}

/* Inputs of one pixel into slot pix of the interleaved scratch, in SXTB16 pair order. */
static void widen_pixel(const int8_t *in, int in_c, int16_t *s16, int pix) {
#if KWS_NN_DSP
    uint32_t *s = (uint32_t *)(void *)s16 + pix;
    for (int c = 0; c < in_c; c += 4) {
        uint32_t v;
        memcpy(&v, in + c, 4);
        s[0] = kws_sxtb16(v);
        s[PIX] = kws_sxtb16_ror8(v);
        s += 2 * PIX;
    }
#else
    for (int c = 0; c < in_c; c += 4) {
        int16_t *d = s16 + (size_t)c * PIX + (size_t)pix * 2; /* pair c/2 of this pixel */
        d[0] = in[c];
        d[1] = in[c + 2];
        d[2 * PIX] = in[c + 1];
        d[2 * PIX + 1] = in[c + 3];
    }
#endif
}

void kws_nn_pointwise(const kws_nn_pointwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int in_c = p->in_c, out_c = p->out_c, kp = in_c / 2, n = p->n_pix;
    for (int i = 0; i < n; i += PIX) {
        int8_t *o[PIX];
        for (int j = 0; j < PIX; j++) {
            const int pix = i + j < n ? i + j : n - 1; /* a short last group repeats its last pixel */
            widen_pixel(in + (size_t)pix * in_c, in_c, scratch, j);
            o[j] = out + (size_t)pix * out_c;
        }
        gemm4(p->weights, kp, out_c, &p->q, scratch, o);
    }
}

/* im2col of output pixel (oy, ox) into slot pix: (x + in_offset), zero outside the input and past K. */
static void im2col(const kws_nn_conv_t *p, const int8_t *in, int oy, int ox, int16_t *s16, int pix) {
    const int iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int in_c = p->in_c, row_len = p->k_w * in_c;
    const int16_t off = (int16_t)p->in_offset;
    /* Element e of the patch goes to s16[(e / 2 * PIX + pix) * 2 + e % 2]. */
    int16_t *d = s16 + pix * 2;
    int e = 0;
    for (int ky = 0; ky < p->k_h; ky++) {
        const int iy = iy0 + ky;
        if (iy < 0 || iy >= p->in_h) {
            for (int i = 0; i < row_len; i++, e++) d[(e >> 1) * 2 * PIX + (e & 1)] = 0;
            continue;
        }
        const int8_t *row = in + (size_t)iy * p->in_w * in_c;
        for (int kx = 0; kx < p->k_w; kx++) {
            const int ix = ix0 + kx;
            if (ix < 0 || ix >= p->in_w) {
                for (int c = 0; c < in_c; c++, e++) d[(e >> 1) * 2 * PIX + (e & 1)] = 0;
            } else {
                const int8_t *src = row + (size_t)ix * in_c;
                for (int c = 0; c < in_c; c++, e++) d[(e >> 1) * 2 * PIX + (e & 1)] = (int16_t)(src[c] + off);
            }
        }
    }
    for (; e < p->k_padded; e++) d[(e >> 1) * 2 * PIX + (e & 1)] = 0;
}

void kws_nn_conv2d(const kws_nn_conv_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int n = p->out_h * p->out_w, out_c = p->out_c, kp = p->k_padded / 2;
    for (int i = 0; i < n; i += PIX) {
        int8_t *o[PIX];
        for (int j = 0; j < PIX; j++) {
            const int pix = i + j < n ? i + j : n - 1;
            im2col(p, in, pix / p->out_w, pix % p->out_w, scratch, j);
            o[j] = out + (size_t)pix * out_c;
        }
        gemm4(p->weights, kp, out_c, &p->q, scratch, o);
    }
}
