/*
 * kws_nn_misc.c - the small layers (average pooling, fully connected, softmax), the reference
 * requantization and the CRC-32 the firmware checks its weights with at boot.
 *
 * Softmax follows TFLite's int8 reference (gemmlowp fixed point: inputs rescaled to Q5.26,
 * exp on negative values, sum in Q12.19, reciprocal by Newton-Raphson), so the scores are the
 * interpreter's to the last bit.
 */
#include <string.h>

#include "kws_nn_internal.h"

int32_t kws_nn_requantize(int32_t acc, int32_t mult, int32_t shift) { return kws_mbqm(acc, mult, shift); }

int kws_nn_uses_dsp(void) { return KWS_NN_DSP; }

void kws_nn_avgpool(const kws_nn_avgpool_t *p, const int8_t *in, int8_t *out) {
    const int c_n = p->c;
    for (int oy = 0; oy < p->out_h; oy++) {
        const int y0 = oy * p->stride_h - p->pad_top;
        const int fy0 = y0 < 0 ? -y0 : 0, fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
        for (int ox = 0; ox < p->out_w; ox++) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int fx0 = x0 < 0 ? -x0 : 0, fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
            const int count = (fy1 - fy0) * (fx1 - fx0);
#if KWS_NN_DSP
            /* Four channels per word: two int16 pairs of sums, exact while count * 128 fits int16. */
            if ((c_n & 3) == 0 && count > 0 && count <= 255) {
                for (int c = 0; c < c_n; c += 4) {
                    uint32_t s02 = 0, s13 = 0;
                    for (int fy = fy0; fy < fy1; fy++) {
                        const int8_t *px = in + ((size_t)(y0 + fy) * p->in_w + (size_t)(x0 + fx0)) * c_n + c;
                        for (const int8_t *const end = px + (size_t)(fx1 - fx0) * c_n; px != end; px += c_n) {
                            uint32_t v;
                            memcpy(&v, px, 4);
                            s02 = kws_sxtab16(s02, v);
                            s13 = kws_sxtab16_ror8(s13, v);
                        }
                    }
                    const int32_t sums[4] = {(int16_t)s02, (int16_t)s13, (int16_t)(s02 >> 16), (int16_t)(s13 >> 16)};
                    for (int j = 0; j < 4; j++) {
                        int32_t acc = sums[j];
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                        if (acc < p->act_min) acc = p->act_min;
                        if (acc > p->act_max) acc = p->act_max;
                        out[((size_t)oy * p->out_w + ox) * c_n + c + j] = (int8_t)acc;
                    }
                }
                continue;
            }
#endif
            for (int c = 0; c < c_n; c++) {
                int32_t acc = 0;
                for (int fy = fy0; fy < fy1; fy++) {
                    const int8_t *row = in + ((size_t)(y0 + fy) * p->in_w + (size_t)x0) * c_n + c;
                    for (int fx = fx0; fx < fx1; fx++) acc += row[(size_t)fx * c_n];
                }
                if (count > 0) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                if (acc < p->act_min) acc = p->act_min;
                if (acc > p->act_max) acc = p->act_max;
                out[((size_t)oy * p->out_w + ox) * c_n + c] = (int8_t)acc;
            }
        }
    }
}

void kws_nn_fc(const kws_nn_fc_t *p, const int8_t *in, int8_t *out) {
    for (int o = 0; o < p->out_n; o++) {
        const int8_t *w = p->weights + (size_t)o * p->in_n;
        int32_t acc = p->q.bias[o];
        for (int i = 0; i < p->in_n; i++) acc += (int32_t)in[i] * w[i];
        out[o] = kws_requant_ref(&p->q, o, acc);
    }
}

/* --- gemmlowp fixed point, int32 raw values ------------------------------------------------ */

/* SaturatingRoundingMultiplyByPOT with a positive exponent: saturating left shift. */
static int32_t sat_shl(int32_t x, int e) {
    const int32_t threshold = (int32_t)((1LL << (31 - e)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << e);
}

/* exp(x) for x in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8. */
static int32_t exp_quarter(int32_t a) {
    const int32_t exp_minus_1_8 = 1895147668, one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = kws_srdhm(x, x), x3 = kws_srdhm(x2, x), x4 = kws_srdhm(x2, x2);
    const int32_t x4_over_4 = kws_rdbpot(x4, 2);
    const int32_t poly = kws_rdbpot(kws_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_1_8 + kws_srdhm(exp_minus_1_8, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26 (5 integer bits); result Q0.31. */
static int32_t exp_negative_q5(int32_t a) {
    enum { kIntBits = 5, kFracBits = 26 };
    const int32_t quarter = 1 << (kFracBits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(sat_shl(a_mod_quarter_minus_quarter, kIntBits));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    /* exp(-2^k) for k = -2 .. 4, applied for each bit of the remainder. */
    static const int32_t mul[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int k = 0; k < 7; k++) {
        if (remainder & (1 << (kFracBits - 2 + k))) result = kws_srdhm(result, mul[k]);
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in, Q0.31 out (Newton-Raphson on the half denominator). */
static int32_t one_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_17 = 1515870810, cneg32_17 = -1010580540; /* Q2.29 */
    int32_t x = c48_17 + kws_srdhm(half_den, cneg32_17);
    for (int i = 0; i < 3; i++) {
        const int32_t hd_x = kws_srdhm(half_den, x);             /* Q2.29 */
        const int32_t one_minus = (1 << 29) - hd_x;              /* Q2.29 */
        x = x + sat_shl(kws_srdhm(x, one_minus), 2);             /* Q4.27 -> Q2.29 */
    }
    /* x / 2: the same raw value read as Q1.30 (gemmlowp's ExactMulByPot), rescaled to Q0.31. */
    return sat_shl(x, 1);
}

static int count_leading_zeros(uint32_t x) {
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
}

void kws_nn_softmax(const kws_nn_softmax_t *p, const int8_t *in, int8_t *out) {
    for (int r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * p->depth;
        int8_t *y = out + (size_t)r * p->depth;
        int32_t max_in = -128;
        for (int c = 0; c < p->depth; c++) max_in = x[c] > max_in ? x[c] : max_in;
        int32_t sum = 0; /* Q12.19 */
        for (int c = 0; c < p->depth; c++) {
            const int32_t diff = x[c] - max_in;
            if (diff >= p->diff_min) {
                const int32_t scaled = kws_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
                sum += kws_rdbpot(exp_negative_q5(scaled), 12);
            }
        }
        const int headroom_plus_one = count_leading_zeros((uint32_t)sum);
        const int bits_over_unit = 12 - headroom_plus_one;
        const int32_t shifted_minus_one = (int32_t)(((uint32_t)sum << headroom_plus_one) - (1u << 31));
        const int32_t scale = one_over_one_plus_x(shifted_minus_one);
        for (int c = 0; c < p->depth; c++) {
            const int32_t diff = x[c] - max_in;
            int32_t v = -128;
            if (diff >= p->diff_min) {
                const int32_t scaled = kws_srdhm(diff * (1 << p->input_left_shift), p->input_multiplier);
                const int32_t e = exp_negative_q5(scaled);
                v = kws_rdbpot(kws_srdhm(scale, e), bits_over_unit + 31 - 8) - 128;
                if (v < -128) v = -128;
                if (v > 127) v = 127;
            }
            y[c] = (int8_t)v;
        }
    }
}

/* CRC-32, reflected polynomial 0xEDB88320, four bits per step (a 64-byte table). */
uint32_t kws_nn_crc32(uint32_t crc, const void *data, size_t len) {
    static const uint32_t table[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    const uint8_t *b = (const uint8_t *)data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= b[i];
        crc = (crc >> 4) ^ table[crc & 15u];
        crc = (crc >> 4) ^ table[crc & 15u];
    }
    return ~crc;
}
