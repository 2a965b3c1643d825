/*
 * kws_nn_internal.h - arithmetic shared by the kernels: TFLite's requantization, the choice of
 * code path, and the DSP intrinsics (or their C equivalents with -DKWS_NN_EMULATE_DSP).
 *
 * Requantization. TFLM computes out = zp + RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
 * acc << ls, mult), rs): two roundings, both half away from zero. The DSP path uses a cheaper form
 * that the generator enables per layer (fast_add != NULL) only where it is provably identical:
 *   h = SMMULR(2 * acc, mult) is exactly SaturatingRoundingDoublingHighMul(acc, mult): with
 *     mult in (0, 2^31) the product never saturates, and for a negative product the gemmlowp
 *     nudge (1 - 2^30, then truncation) equals floor((acc * mult + 2^30) / 2^31);
 *   (h + 2^(rs-1)) >> rs equals RoundingDivideByPOT(h, rs) for h >= 0; for h < 0 both are <= 0,
 *     so after adding zp both clamp to act_min, which the generator requires to be >= zp (ReLU);
 *   SMMLAR adds fast_add = 2^(rs-1) + (zp << rs) in the same instruction, and the generator
 *     bounded |acc| so that neither 2 * acc nor h + fast_add overflows.
 */
#ifndef KWS_NN_INTERNAL_H
#define KWS_NN_INTERNAL_H

#include <stdint.h>

#include "kws_nn.h"

/*
 * SMMLAR in C: acc + floor((a * b + 2^31) / 2^32). One 32 x 32 -> 64 multiply where the core has
 * the high word (MULL and MULSH on the ESP32's Xtensa LX6). Cores without it (the call0-ABI Xtensa
 * lx106 of the ESP8266, the ESP32's stand-in in tinykws.boardcode.xtensa; or -DKWS_NN_NO_MULHI)
 * would call a 64-bit multiply routine; there it is four 32-bit multiplies of 16-bit halves:
 * with a = ah 2^16 + al, b = bh 2^16 + bl (al, bl unsigned),
 *   a b + 2^31 = ah bh 2^32 + (ah bl + al bh) 2^16 + al bl + 2^31, and floor division by 2^32
 *   splits exactly into ah bh + (ah bl >> 16) + (the low sum >> 16), the low sum being
 *   (ah bl & 0xFFFF) + al bh + (al bl >> 16) + 2^15, every term within 32 bits. The kernels call
 *   it only with b a requantization multiplier, never negative (TFLM's are in [0, 2^31)): then
 *   al bh is in [0, 2^31) and the low sum below 2^32 as an unsigned word, so al bh needs no split
 *   of its own (3 instructions fewer an output than splitting both cross products).
 */
#if defined(KWS_NN_NO_MULHI) || (defined(__XTENSA__) && defined(__XTENSA_CALL0_ABI__))
static inline int32_t kws_smmlar_c(int32_t a, int32_t b, int32_t acc) { /* b >= 0 */
    const int32_t ah = a >> 16, bh = b >> 16;
    const uint32_t al = (uint32_t)a & 0xFFFFu, bl = (uint32_t)b & 0xFFFFu;
    const int32_t m1 = ah * (int32_t)bl;
    const uint32_t low = ((uint32_t)m1 & 0xFFFFu) + al * (uint32_t)bh + ((al * bl) >> 16) + 0x8000u;
    return (int32_t)((uint32_t)acc + (uint32_t)(ah * bh) + (uint32_t)(m1 >> 16) + (low >> 16));
}
#else
static inline int32_t kws_smmlar_c(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((((int64_t)acc * 4294967296LL) + (int64_t)a * b + 0x80000000LL) >> 32);
}
#endif
static inline int32_t kws_ssat8_c(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }

/*
 * The portable kernels read the generator's int16 pairs (packed in int32 words, low half first)
 * as int16 through this type, so that no shifts unpack them: the stores are little-endian on every
 * target (Cortex-M, Xtensa, x86 hosts). may_alias: the words are declared int32_t.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "kws_nn reads int16 pairs from int32 words as little-endian"
#endif
#if defined(__GNUC__)
typedef int16_t kws_i16_alias __attribute__((may_alias));
#else
typedef int16_t kws_i16_alias;
#endif

#if defined(KWS_NN_PORTABLE)
#define KWS_NN_DSP 0
#elif defined(__ARM_FEATURE_DSP)
#define KWS_NN_DSP 1
#include <arm_acle.h>
static inline int32_t kws_smlad(uint32_t x, uint32_t y, int32_t acc) { return __smlad(x, y, acc); }
static inline uint32_t kws_sxtb16(uint32_t x) { return __sxtb16(x); }
/* Bytes 1 and 3 sign-extended: one SXTB16 with its free rotation. */
static inline uint32_t kws_sxtb16_ror8(uint32_t x) {
    uint32_t r; /* the rotation written out: GCC emits a separate ROR for the intrinsic form */
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline int32_t kws_smmlar(int32_t a, int32_t b, int32_t acc) {
    int32_t r;
    __asm("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
/* acc + SXTB16(x) (and of x rotated by 8) in one SXTAB16: the widening add of a pooling sum. */
static inline uint32_t kws_sxtab16(uint32_t acc, uint32_t x) { return __sxtab16(acc, x); }
static inline uint32_t kws_sxtab16_ror8(uint32_t acc, uint32_t x) {
    uint32_t r;
    __asm("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
#define kws_ssat8(x) __ssat((x), 8)
static inline uint32_t kws_sadd16(uint32_t x, uint32_t y) { return (uint32_t)__sadd16((int16x2_t)x, (int16x2_t)y); }
#elif defined(KWS_NN_EMULATE_DSP)
#define KWS_NN_DSP 1
static inline int32_t kws_smlad(uint32_t x, uint32_t y, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)x * (int16_t)y) +
                     (uint32_t)((int32_t)(int16_t)(x >> 16) * (int16_t)(y >> 16)));
}
static inline uint32_t kws_sxtb16(uint32_t x) {
    return (uint32_t)(uint16_t)(int16_t)(int8_t)x | ((uint32_t)(uint16_t)(int16_t)(int8_t)(x >> 16) << 16);
}
static inline uint32_t kws_sxtb16_ror8(uint32_t x) { return kws_sxtb16((x >> 8) | (x << 24)); }
static inline int32_t kws_smmlar(int32_t a, int32_t b, int32_t acc) { return kws_smmlar_c(a, b, acc); }
static inline int32_t kws_ssat8(int32_t x) { return kws_ssat8_c(x); }
static inline uint32_t kws_sxtab16(uint32_t acc, uint32_t x) {
    const uint32_t e = kws_sxtb16(x);
    return (uint32_t)(uint16_t)((int16_t)acc + (int16_t)e) | ((uint32_t)(uint16_t)((int16_t)(acc >> 16) + (int16_t)(e >> 16)) << 16);
}
static inline uint32_t kws_sxtab16_ror8(uint32_t acc, uint32_t x) { return kws_sxtab16(acc, (x >> 8) | (x << 24)); }
static inline uint32_t kws_sadd16(uint32_t x, uint32_t y) {
    return (uint32_t)(uint16_t)((int16_t)x + (int16_t)y) | ((uint32_t)(uint16_t)((int16_t)(x >> 16) + (int16_t)(y >> 16)) << 16);
}
#else
#define KWS_NN_DSP 0
#endif

/* gemmlowp's SaturatingRoundingDoublingHighMul. */
static inline int32_t kws_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* gemmlowp's RoundingDivideByPOT: round half away from zero. */
static inline int32_t kws_rdbpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t kws_mbqm(int32_t acc, int32_t mult, int32_t shift) {
    int32_t ls = shift > 0 ? shift : 0;
    int32_t rs = shift > 0 ? 0 : -shift;
    return kws_rdbpot(kws_srdhm((int32_t)((uint32_t)acc << ls), mult), rs);
}

/* The reference output of channel c for accumulator acc (bias already included). */
static inline int8_t kws_requant_ref(const kws_nn_quant_t *q, int c, int32_t acc) {
    int32_t v = kws_mbqm(acc, q->mult[c], q->shift[c]) + q->out_zp;
    if (v < q->act_min) v = q->act_min;
    if (v > q->act_max) v = q->act_max;
    return (int8_t)v;
}

#if KWS_NN_DSP
/* The same value in 4-5 instructions; only where the generator set fast_add (see above). */
static inline int8_t kws_requant_fast(int32_t acc, int32_t mult, int32_t add, int32_t rs, int32_t amin, int32_t amax) {
    int32_t v = kws_ssat8(kws_smmlar(acc + acc, mult, add) >> rs);
    if (v < amin) v = amin;
    if (v > amax) v = amax;
    return (int8_t)v;
}
#endif

#endif
