/*
 * kws_nn_depthwise.c - depthwise convolution (depth multiplier 1), four channels at a time.
 *
 * For each group of 4 channels, the whole input of those channels is copied into scratch as
 * int16 (x + in_offset), planar and padded ([4][h2][w2], zeros around), so that a channel's taps
 * along a row are adjacent: on the DSP path one (unaligned) 32-bit load gives two taps for SMLAD.
 * The group's outputs are then written channel by channel. Because a group only overwrites the
 * bytes of its own channels, which are already copied, the layer can run in place (the
 * generator's memory plan relies on it). The padding is zeroed once per call and never written.
 * Per channel the accumulators of up to 128 outputs go to a small array first and are
 * requantized in a second loop, so that each loop keeps what it needs in registers.
 */
#include <string.h>

#include "kws_nn_internal.h"

#if KWS_NN_DSP && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2") /* second hottest kernel: see kws_nn_gemm.c */
#endif

enum { GROUP = 4, CHUNK = 128 };

/* Channels [c0, c0 + g) of every input pixel into the g planes. */
static void load_group(const kws_nn_depthwise_t *p, const int8_t *in, int c0, int g, int16_t *planes, int h2, int w2) {
    const int c_n = p->c, plane = h2 * w2;
    const int rows = p->in_h < h2 - p->pad_top ? p->in_h : h2 - p->pad_top;
    const int cols = p->in_w < w2 - p->pad_left ? p->in_w : w2 - p->pad_left;
    const int16_t off = (int16_t)p->in_offset;
    for (int iy = 0; iy < rows; iy++) {
        const int8_t *px = in + ((size_t)iy * p->in_w) * c_n + c0;
        int16_t *d = planes + (size_t)(p->pad_top + iy) * w2 + p->pad_left;
#if KWS_NN_DSP
        if (g == GROUP) {
            const uint32_t off2 = (uint32_t)(uint16_t)off * 0x10001u;
            for (int ix = 0; ix < cols; ix++, px += c_n) {
                uint32_t v;
                memcpy(&v, px, 4);
                const uint32_t lo = kws_sadd16(kws_sxtb16(v), off2), hi = kws_sadd16(kws_sxtb16_ror8(v), off2);
                d[ix] = (int16_t)lo;
                d[ix + 2 * plane] = (int16_t)(lo >> 16);
                d[ix + plane] = (int16_t)hi;
                d[ix + 3 * plane] = (int16_t)(hi >> 16);
            }
            continue;
        }
#endif
        for (int ix = 0; ix < cols; ix++, px += c_n) {
            for (int j = 0; j < g; j++) d[(size_t)j * plane + ix] = (int16_t)(px[j] + off);
        }
    }
}

/* Accumulators of outputs [first, first + n) (row-major) of one channel from its plane. */
static void channel_acc(const kws_nn_depthwise_t *p, const int16_t *plane, const int16_t *w, int32_t bias, int w2,
                        int first, int n, int32_t *acc) {
    const int kh = p->k_h, kw = p->k_w, sh = p->stride_h, sw = p->stride_w, out_w = p->out_w;
    int oy = first / out_w, ox = first % out_w;
#if KWS_NN_DSP
    if (kh == 3 && kw == 3) {
        /* Few live values, so little spills: the third column's first two taps are paired
         * (x02, x12) for one SMLAD. */
        uint32_t w0, w1, w2p;
        memcpy(&w0, w, 4);
        memcpy(&w1, w + 3, 4);
        memcpy(&w2p, w + 6, 4);
        const uint32_t t01 = (uint32_t)(uint16_t)w[2] | ((uint32_t)(uint16_t)w[5] << 16);
        const int32_t t2 = w[8];
        for (int i = 0; i < n;) {
            const int16_t *r0 = plane + (size_t)oy * sh * w2 + (size_t)ox * sw;
            const int m = out_w - ox < n - i ? out_w - ox : n - i;
            int32_t *a_out = acc + i;
            for (int k = 0; k < m; k++, r0 += sw) {
                const int16_t *r1 = r0 + w2, *r2 = r1 + w2;
                uint32_t x0, x1, x2;
                memcpy(&x0, r0, 4);
                memcpy(&x1, r1, 4);
                memcpy(&x2, r2, 4);
                const uint32_t x3 = (uint32_t)(uint16_t)r0[2] | ((uint32_t)(uint16_t)r1[2] << 16);
                int32_t a = kws_smlad(x0, w0, bias + r2[2] * t2); /* one MLA */
                a = kws_smlad(x1, w1, a);
                a = kws_smlad(x2, w2p, a);
                a_out[k] = kws_smlad(x3, t01, a);
            }
            i += m;
            oy++;
            ox = 0;
        }
        return;
    }
#endif
    for (int i = 0; i < n; i++) {
        const int16_t *x = plane + (size_t)oy * sh * w2 + (size_t)ox * sw;
        int32_t a = bias;
        for (int ky = 0; ky < kh; ky++, x += w2) {
            for (int kx = 0; kx < kw; kx++) a += (int32_t)x[kx] * w[ky * kw + kx];
        }
        acc[i] = a;
        if (++ox == out_w) {
            ox = 0;
            oy++;
        }
    }
}

void kws_nn_depthwise(const kws_nn_depthwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int c_n = p->c, taps = p->k_h * p->k_w, n_out = p->out_h * p->out_w;
    const int h2 = (p->out_h - 1) * p->stride_h + p->k_h, w2 = (p->out_w - 1) * p->stride_w + p->k_w;
    const size_t plane = (size_t)h2 * w2;
    /* +2: the DSP 3x3 loop loads two taps at a time and may read one int16 past the last plane. */
    memset(scratch, 0, (GROUP * plane + 2) * sizeof(int16_t));
    int32_t acc[CHUNK];
    for (int c0 = 0; c0 < c_n; c0 += GROUP) {
        const int g = c_n - c0 < GROUP ? c_n - c0 : GROUP;
        load_group(p, in, c0, g, scratch, h2, w2);
        for (int j = 0; j < g; j++) {
            const int c = c0 + j;
            const int16_t *w = p->weights + (size_t)c * taps;
            for (int first = 0; first < n_out; first += CHUNK) {
                const int n = n_out - first < CHUNK ? n_out - first : CHUNK;
                channel_acc(p, scratch + (size_t)j * plane, w, p->q.bias[c], w2, first, n, acc);
                int8_t *o = out + (size_t)first * c_n + c;
#if KWS_NN_DSP
                if (p->q.fast_add != NULL) {
                    const int32_t m = p->q.mult[c], add = p->q.fast_add[c], rs = -p->q.shift[c];
                    if (p->q.act_min <= -128 && p->q.act_max >= 127) {
                        for (int i = 0; i < n; i++, o += c_n) *o = (int8_t)kws_ssat8(kws_smmlar(acc[i] + acc[i], m, add) >> rs);
                    } else {
                        for (int i = 0; i < n; i++, o += c_n) {
                            *o = kws_requant_fast(acc[i], m, add, rs, p->q.act_min, p->q.act_max);
                        }
                    }
                    continue;
                }
#endif
                for (int i = 0; i < n; i++, o += c_n) *o = kws_requant_ref(&p->q, c, acc[i]);
            }
        }
    }
}
