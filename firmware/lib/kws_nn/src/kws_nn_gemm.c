/*
 * kws_nn_gemm.c - convolutions as small matrix products: the general convolution (im2col) and the
 * 1x1 convolution, which share one inner product kernel over two output pixels at a time.
 *
 * Both kernels first write the int16 inputs of two pixels into scratch, interleaved by pair:
 * word [kp * 2 + pix] holds inputs 2kp and 2kp+1 of pixel pix (im2col order for the general
 * convolution, SXTB16 order for the 1x1 one; the generator arranged the weights to match, see
 * the gemm layout in kws_nn.h). On the DSP path one 64-bit load brings a pair of inputs of both
 * pixels, another the same pair of weights of two output channels, and four SMLADs do eight
 * multiply-accumulates: 2 x 2 blocking keeps 4 accumulators, 4 operands, 2 pointers and a
 * counter in registers, so nothing spills in the loop.
 */
#include <string.h>

#include "kws_nn_internal.h"

#if KWS_NN_DSP && defined(__GNUC__) && !defined(__clang__)
/* The hot loop of the whole network runs here; -O2 (unrolling, scheduling) is worth it even in
 * the board's -Os build. */
#pragma GCC optimize("O2")
#endif

#if KWS_NN_DSP
/* Two outputs (channels c, c+1) of both pixels. FULL: act range is [-128, 127], which SSAT gives. */
#define REQUANT_2X2(FULL)                                                                                   \
    do {                                                                                                   \
        const int32_t m0 = q->mult[c], m1 = q->mult[c + 1], ad0 = q->fast_add[c], ad1 = q->fast_add[c + 1]; \
        const int32_t s0 = -q->shift[c], s1 = -q->shift[c + 1];                                            \
        if (FULL) {                                                                                        \
            o0[c] = (int8_t)kws_ssat8(kws_smmlar(a0 + a0, m0, ad0) >> s0);                                 \
            o1[c] = (int8_t)kws_ssat8(kws_smmlar(b0 + b0, m0, ad0) >> s0);                                 \
            o0[c + 1] = (int8_t)kws_ssat8(kws_smmlar(a1 + a1, m1, ad1) >> s1);                             \
            o1[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b1 + b1, m1, ad1) >> s1);                             \
        } else {                                                                                           \
            o0[c] = kws_requant_fast(a0, m0, ad0, s0, q->act_min, q->act_max);                             \
            o1[c] = kws_requant_fast(b0, m0, ad0, s0, q->act_min, q->act_max);                             \
            o0[c + 1] = kws_requant_fast(a1, m1, ad1, s1, q->act_min, q->act_max);                         \
            o1[c + 1] = kws_requant_fast(b1, m1, ad1, s1, q->act_min, q->act_max);                         \
        }                                                                                                  \
    } while (0)

/*
 * The pair loop for channels (c, c+1): x the interleaved pixel pairs, w the block's weight words,
 * kp pairs (even). Written in assembly because GCC neither pairs the loads into LDRD nor keeps
 * the loop free of spills at -Os: 4 LDRD + 8 SMLAD + 2 loop instructions per 16 MACs.
 */
static inline __attribute__((always_inline)) void dot_2x2(const uint32_t *x, const uint32_t *w, int kp, int32_t *a0,
                                                          int32_t *a1, int32_t *b0, int32_t *b1) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
    int32_t p0 = *a0, p1 = *a1, q0 = *b0, q1 = *b1;
    uint32_t xa, xb, w0, w1;
    int k = kp >> 1;
    __asm volatile(
        "1:\n\t"
        "ldrd %[xa], %[xb], [%[x]], #8\n\t"
        "ldrd %[w0], %[w1], [%[w]], #8\n\t"
        "smlad %[p0], %[xa], %[w0], %[p0]\n\t"
        "smlad %[q0], %[xb], %[w0], %[q0]\n\t"
        "smlad %[p1], %[xa], %[w1], %[p1]\n\t"
        "smlad %[q1], %[xb], %[w1], %[q1]\n\t"
        "ldrd %[xa], %[xb], [%[x]], #8\n\t"
        "ldrd %[w0], %[w1], [%[w]], #8\n\t"
        "smlad %[p0], %[xa], %[w0], %[p0]\n\t"
        "smlad %[q0], %[xb], %[w0], %[q0]\n\t"
        "smlad %[p1], %[xa], %[w1], %[p1]\n\t"
        "smlad %[q1], %[xb], %[w1], %[q1]\n\t"
        "subs %[k], %[k], #1\n\t"
        "bne 1b\n\t"
        : [p0] "+r"(p0), [p1] "+r"(p1), [q0] "+r"(q0), [q1] "+r"(q1), [x] "+r"(x), [w] "+r"(w), [k] "+r"(k),
          [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1)
        :
        : "cc", "memory");
    *a0 = p0;
    *a1 = p1;
    *b0 = q0;
    *b1 = q1;
#else
    int32_t p0 = *a0, p1 = *a1, q0 = *b0, q1 = *b1;
    for (int k = 0; k < kp; k++) {
        const uint32_t xa = x[2 * k], xb = x[2 * k + 1], w0 = w[2 * k], w1 = w[2 * k + 1];
        p0 = kws_smlad(xa, w0, p0);
        q0 = kws_smlad(xb, w0, q0);
        p1 = kws_smlad(xa, w1, p1);
        q1 = kws_smlad(xb, w1, q1);
    }
    *a0 = p0;
    *a1 = p1;
    *b0 = q0;
    *b1 = q1;
#endif
}
#endif

/* Output channels [0, out_c) for pixels 0 and 1 of scratch s (kp pairs); o1 may equal o0. */
static void gemm2(const int16_t *weights, int kp, int out_c, const kws_nn_quant_t *q, const int16_t *s16, int8_t *o0,
                  int8_t *o1) {
    const int blocks = out_c / 2;
#if KWS_NN_DSP
    const uint32_t *s = (const uint32_t *)(const void *)s16;
    const uint32_t *w = (const uint32_t *)(const void *)weights;
    const int fast = q->fast_add != NULL;
    const int full_range = q->act_min <= -128 && q->act_max >= 127;
    if (fast && full_range) {
        /* Accumulate up to 64 channels into a small array, then requantize them in a tight loop:
         * the block loop then keeps nothing but the dot product live (no spills), and the
         * requantization loop walks its per-channel constants with post-incremented loads. */
        int32_t acc[2][64];
        for (int c0 = 0; c0 < blocks * 2; c0 += 64) {
            const int n = blocks * 2 - c0 < 64 ? blocks * 2 - c0 : 64;
            for (int c = 0; c < n; c += 2, w += 2 * kp) {
                int32_t a0 = q->bias[c0 + c], a1 = q->bias[c0 + c + 1], b0 = a0, b1 = a1;
                dot_2x2(s, w, kp, &a0, &a1, &b0, &b1);
                acc[0][c] = a0;
                acc[0][c + 1] = a1;
                acc[1][c] = b0;
                acc[1][c + 1] = b1;
            }
            const int32_t *m = q->mult + c0, *ad = q->fast_add + c0;
            const int8_t *sh = q->shift + c0;
            int8_t *d0 = o0 + c0, *d1 = o1 + c0;
            for (int c = 0; c < n; c++) {
                const int32_t mc = m[c], addc = ad[c], rs = -sh[c];
                /* d1 first: with o1 == o0 (odd last pixel) both hold the same value anyway. */
                d1[c] = (int8_t)kws_ssat8(kws_smmlar(acc[1][c] + acc[1][c], mc, addc) >> rs);
                d0[c] = (int8_t)kws_ssat8(kws_smmlar(acc[0][c] + acc[0][c], mc, addc) >> rs);
            }
        }
    } else for (int b = 0; b < blocks; b++, w += 2 * kp) {
        const int c = 2 * b;
        int32_t a0 = q->bias[c], a1 = q->bias[c + 1], b0 = a0, b1 = a1;
        dot_2x2(s, w, kp, &a0, &a1, &b0, &b1);
        if (fast && full_range) {
            REQUANT_2X2(1);
        } else if (fast) {
            REQUANT_2X2(0);
        } else {
            o0[c] = kws_requant_ref(q, c, a0);
            o1[c] = kws_requant_ref(q, c, b0);
            o0[c + 1] = kws_requant_ref(q, c + 1, a1);
            o1[c + 1] = kws_requant_ref(q, c + 1, b1);
        }
    }
    if (out_c & 1) {
        const int c = out_c - 1;
        int32_t a = q->bias[c], bb = a;
        for (int k = 0; k < kp; k++) {
            a = kws_smlad(s[2 * k], w[k], a);
            bb = kws_smlad(s[2 * k + 1], w[k], bb);
        }
        o0[c] = kws_requant_ref(q, c, a);
        o1[c] = kws_requant_ref(q, c, bb);
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
        int32_t a = q->bias[oc], bb = a;
        for (int k = 0; k < kp; k++) {
            const int16_t *wk = weights + base + (size_t)k * step;
            const int16_t *x = s16 + 4 * k;
            a += (int32_t)x[0] * wk[0] + (int32_t)x[1] * wk[1];
            bb += (int32_t)x[2] * wk[0] + (int32_t)x[3] * wk[1];
        }
        o0[oc] = kws_requant_ref(q, oc, a);
        o1[oc] = kws_requant_ref(q, oc, bb);
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
        s[2] = kws_sxtb16_ror8(v);
        s += 4;
    }
#else
    for (int c = 0; c < in_c; c += 4) {
        int16_t *d = s16 + (size_t)c * 2 + (size_t)pix * 2; /* pair c/2 of this pixel */
        d[0] = in[c];
        d[1] = in[c + 2];
        d[4] = in[c + 1];
        d[5] = in[c + 3];
    }
#endif
}

void kws_nn_pointwise(const kws_nn_pointwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int in_c = p->in_c, out_c = p->out_c, kp = in_c / 2;
    int i = 0;
    for (; i + 2 <= p->n_pix; i += 2) {
        widen_pixel(in + (size_t)i * in_c, in_c, scratch, 0);
        widen_pixel(in + (size_t)(i + 1) * in_c, in_c, scratch, 1);
        gemm2(p->weights, kp, out_c, &p->q, scratch, out + (size_t)i * out_c, out + (size_t)(i + 1) * out_c);
    }
    if (i < p->n_pix) { /* odd pixel count: the last pixel in both slots, written twice */
        widen_pixel(in + (size_t)i * in_c, in_c, scratch, 0);
        widen_pixel(in + (size_t)i * in_c, in_c, scratch, 1);
        gemm2(p->weights, kp, out_c, &p->q, scratch, out + (size_t)i * out_c, out + (size_t)i * out_c);
    }
}

/* im2col of output pixel (oy, ox) into slot pix: (x + in_offset), zero outside the input and past K. */
static void im2col(const kws_nn_conv_t *p, const int8_t *in, int oy, int ox, int16_t *s16, int pix) {
    const int iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int in_c = p->in_c, row_len = p->k_w * in_c;
    const int16_t off = (int16_t)p->in_offset;
    /* Element e of the patch goes to s16[(e / 2 * 2 + pix) * 2 + e % 2]: pairs 4 int16 apart. */
    int16_t *d = s16 + pix * 2;
    int e = 0;
    for (int ky = 0; ky < p->k_h; ky++) {
        const int iy = iy0 + ky;
        if (iy < 0 || iy >= p->in_h) {
            for (int i = 0; i < row_len; i++, e++) d[(e >> 1) * 4 + (e & 1)] = 0;
            continue;
        }
        const int8_t *row = in + (size_t)iy * p->in_w * in_c;
        for (int kx = 0; kx < p->k_w; kx++) {
            const int ix = ix0 + kx;
            if (ix < 0 || ix >= p->in_w) {
                for (int c = 0; c < in_c; c++, e++) d[(e >> 1) * 4 + (e & 1)] = 0;
            } else {
                const int8_t *src = row + (size_t)ix * in_c;
                for (int c = 0; c < in_c; c++, e++) d[(e >> 1) * 4 + (e & 1)] = (int16_t)(src[c] + off);
            }
        }
    }
    for (; e < p->k_padded; e++) d[(e >> 1) * 4 + (e & 1)] = 0;
}

void kws_nn_conv2d(const kws_nn_conv_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int n = p->out_h * p->out_w, out_c = p->out_c, kp = p->k_padded / 2;
    for (int i = 0; i < n; i += 2) {
        const int j = i + 1 < n ? i + 1 : i; /* odd count: the last pixel twice */
        im2col(p, in, i / p->out_w, i % p->out_w, scratch, 0);
        im2col(p, in, j / p->out_w, j % p->out_w, scratch, 1);
        gemm2(p->weights, kp, out_c, &p->q, scratch, out + (size_t)i * out_c, out + (size_t)j * out_c);
    }
}
