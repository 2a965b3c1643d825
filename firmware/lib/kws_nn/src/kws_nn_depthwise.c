/*
 * kws_nn_depthwise.c - depthwise convolution (depth multiplier 1), four channels at a time.
 *
 * For each group of 4 channels, the whole input of those channels is copied into scratch as
 * int16 (x + in_offset), one zero-padded plane per channel, stored column by column ([w2][h2p],
 * h2p even): the columns are the long direction of a KWS feature map (25 x 5), and two vertically
 * adjacent values form one aligned word. The group's outputs are then written channel by channel.
 * Because a group only overwrites the bytes of its own channels, which are already copied, the
 * layer can run in place (the generator's memory plan relies on it). The padding is zeroed once
 * per call and never written.
 *
 * DSP path, 3x3 stride 1: two vertically adjacent outputs at a time. With the column words
 * A = (x[y], x[y+1]), B = (x[y+2], x[y+3]) of one kernel column and that column's weights
 * W01 = (w0, w1), W12 = (w1, w2):
 *   out[y]   = SMLAD(A, W01) + SMLABT(B, W12)   (x[y] w0 + x[y+1] w1 + x[y+2] w2)
 *   out[y+1] = SMLAD(B, W12) + SMLATB(A, W01)   (x[y+2] w1 + x[y+3] w2 + x[y+1] w0)
 * so 18 MACs take one LDRD per kernel column and 12 multiply instructions, without repacking.
 * A column's accumulators go to a small array after the planes first and are requantized in a
 * second loop, so that each loop keeps what it needs in registers.
 */
#include <string.h>

#include "kws_nn_internal.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2") /* second hottest kernel: see kws_nn_gemm.c */
#if !KWS_NN_DSP
#pragma GCC optimize("no-schedule-insns")
#endif
#endif

enum { GROUP = 4 };

#if KWS_NN_DSP
static inline int32_t kws_smlabt(uint32_t x, uint32_t y, int32_t acc) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
    return __smlabt((int32_t)x, (int32_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)x * (int16_t)(y >> 16)));
#endif
}
static inline int32_t kws_smlatb(uint32_t x, uint32_t y, int32_t acc) { return kws_smlabt(y, x, acc); }
#endif

#if KWS_NN_DSP
/* (lo's low half, hi's low half) and (lo's high half, hi's high half): one PKHBT / PKHTB each. */
static inline uint32_t kws_pack_lo(uint32_t lo, uint32_t hi) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
    uint32_t r;
    __asm("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return (lo & 0xFFFFu) | (hi << 16);
#endif
}
static inline uint32_t kws_pack_hi(uint32_t lo, uint32_t hi) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
    uint32_t r;
    __asm("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
#else
    return (hi & 0xFFFF0000u) | (lo >> 16);
#endif
}

/* One input pixel's 4 channels (offset added) into d[0], d[plane], d[2 plane], d[3 plane]. */
static inline void load_pixel4(const int8_t *px, int16_t *d, size_t plane, uint32_t off2) {
    uint32_t v;
    memcpy(&v, px, 4);
    const uint32_t lo = kws_sadd16(kws_sxtb16(v), off2), hi = kws_sadd16(kws_sxtb16_ror8(v), off2);
    d[0] = (int16_t)lo;
    d[2 * plane] = (int16_t)(lo >> 16);
    d[plane] = (int16_t)hi;
    d[3 * plane] = (int16_t)(hi >> 16);
}
#endif

/*
 * Channels [c0, c0 + g) of every input pixel into the g planes ([w2][h2p] each). The DSP path for
 * a full group walks down each column (the planes' storage order) two rows at a time: two pixels'
 * words give, after SXTB16 and one PKH per channel, one aligned word per plane, so a pixel costs
 * about half the stores and none of the index arithmetic of the row-by-row walk.
 */
static void load_group(const kws_nn_depthwise_t *p, const int8_t *in, int c0, int g, int16_t *planes, int h2, int w2,
                       int h2p) {
    const int c_n = p->c;
    const size_t plane = (size_t)w2 * h2p;
    const int rows = p->in_h < h2 - p->pad_top ? p->in_h : h2 - p->pad_top;
    const int cols = p->in_w < w2 - p->pad_left ? p->in_w : w2 - p->pad_left;
    const int16_t off = (int16_t)p->in_offset;
#if KWS_NN_DSP
    if (g == GROUP) {
        const uint32_t off2 = (uint32_t)(uint16_t)off * 0x10001u;
        const size_t row_bytes = (size_t)p->in_w * c_n, half = plane / 2; /* plane is even: h2p is */
        for (int ix = 0; ix < cols; ix++) {
            const int8_t *px = in + (size_t)ix * c_n + c0;
            int16_t *d = planes + (size_t)(p->pad_left + ix) * h2p + p->pad_top;
            int iy = 0;
            if (p->pad_top & 1) { /* odd first destination row: alone, then aligned pairs */
                if (rows > 0) load_pixel4(px, d, plane, off2);
                iy = 1, px += row_bytes, d++;
            }
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
            /* The same loop with one pointer per pair of planes and the offsets in registers (the
             * compiler keeps four plane pointers and spills them: 17 instructions a pixel, not 10.5). */
            if (rows - iy >= 2) {
                int n = (rows - iy) / 2;
                int16_t *d2 = d + 2 * plane;
                uint32_t v0, v1, l0, l1, t, u;
                __asm volatile(
                    "1:\n\t"
                    "ldr %[v1], [%[px], %[rb]]\n\t"
                    "ldr %[v0], [%[px]]\n\t"
                    "add %[px], %[px], %[rb], lsl #1\n\t"
                    /* SXTAB16: the widening and the offset in one instruction */
                    "sxtab16 %[l0], %[off], %[v0]\n\t"
                    "sxtab16 %[l1], %[off], %[v1]\n\t"
                    "sxtab16 %[v0], %[off], %[v0], ror #8\n\t"
                    "sxtab16 %[v1], %[off], %[v1], ror #8\n\t"
                    "pkhbt %[t], %[v0], %[v1], lsl #16\n\t"
                    "pkhbt %[u], %[l0], %[l1], lsl #16\n\t"
                    "pkhtb %[v0], %[v1], %[v0], asr #16\n\t"
                    "pkhtb %[l0], %[l1], %[l0], asr #16\n\t"
                    /* the four stores in a row, so that they pipeline */
                    "str %[t], [%[d], %[pl]]\n\t"
                    "str %[u], [%[d]], #4\n\t"
                    "str %[v0], [%[d2], %[pl]]\n\t"
                    "str %[l0], [%[d2]], #4\n\t"
                    "subs %[n], %[n], #1\n\t"
                    "bne 1b\n\t"
                    : [px] "+r"(px), [d] "+r"(d), [d2] "+r"(d2), [n] "+r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1),
                      [l0] "=&r"(l0), [l1] "=&r"(l1), [t] "=&r"(t), [u] "=&r"(u)
                    : [rb] "r"(row_bytes), [pl] "r"(plane * sizeof(int16_t)), [off] "r"(off2)
                    : "cc", "memory");
                iy += (rows - iy) & ~1;
            }
#endif
            for (; iy + 1 < rows; iy += 2, px += 2 * row_bytes, d += 2) {
                uint32_t v0, v1;
                memcpy(&v0, px, 4);
                memcpy(&v1, px + row_bytes, 4);
                const uint32_t l0 = kws_sadd16(kws_sxtb16(v0), off2), l1 = kws_sadd16(kws_sxtb16(v1), off2);
                const uint32_t h0 = kws_sadd16(kws_sxtb16_ror8(v0), off2), h1 = kws_sadd16(kws_sxtb16_ror8(v1), off2);
                uint32_t *dw = (uint32_t *)(void *)d;
                dw[0] = kws_pack_lo(l0, l1);
                dw[half] = kws_pack_lo(h0, h1);
                dw[2 * half] = kws_pack_hi(l0, l1);
                dw[3 * half] = kws_pack_hi(h0, h1);
            }
            if (iy < rows) load_pixel4(px, d, plane, off2);
        }
        return;
    }
#endif
    for (int iy = 0; iy < rows; iy++) {
        const int8_t *px = in + ((size_t)iy * p->in_w) * c_n + c0;
        int16_t *d = planes + (size_t)p->pad_left * h2p + p->pad_top + iy;
        for (int ix = 0; ix < cols; ix++, px += c_n, d += h2p) {
            for (int j = 0; j < g; j++) d[(size_t)j * plane] = (int16_t)(px[j] + off);
        }
    }
}

#if KWS_NN_DSP
/*
 * One output column of a 3x3 stride-1 channel: c0 its first input column (words), col_words the
 * distance between input columns, wab = (wa0, wb0, wa1, wb1, wa2, wb2) the channel's weight words.
 */
static __attribute__((noinline)) void column3x3(const uint32_t *c0, int col_words, const uint32_t *wab, int out_h,
                                                int32_t *acc) {
    const uint32_t *c1 = c0 + col_words, *c2 = c1 + col_words;
    const uint32_t wa[3] = {wab[0], wab[2], wab[4]}, wb[3] = {wab[1], wab[3], wab[5]};
    /* out_h odd: the last pair's second output is computed from the padding and dropped. */
    for (int pairs = (out_h + 1) / 2; pairs > 0;) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
        /* 6 weights, 3 column pointers, the output pointer, 2 inputs and 2 sums: all 14 usable
         * registers, none left for a counter, so the pair loop is unrolled 16 times and entered
         * part way (each step is 16 32-bit instructions: 64 bytes). */
        const int n = pairs < 16 ? pairs : 16;
        uint32_t a, b = (uint32_t)n * 64u, s0, s1;
        __asm volatile(
            "adr.w %[a], 2f\n\t"
            "sub %[a], %[a], %[b]\n\t"
            "mov pc, %[a]\n\t"
            ".rept 16\n\t"
            "ldrd %[a], %[b], [%[c0]], #4\n\t"
            "smuad %[s0], %[a], %[wa0]\n\t"
            "smlabt %[s0], %[b], %[wb0], %[s0]\n\t"
            "smuad %[s1], %[b], %[wb0]\n\t"
            "smlatb %[s1], %[a], %[wa0], %[s1]\n\t"
            "ldrd %[a], %[b], [%[c1]], #4\n\t"
            "smlad %[s0], %[a], %[wa1], %[s0]\n\t"
            "smlabt %[s0], %[b], %[wb1], %[s0]\n\t"
            "smlad %[s1], %[b], %[wb1], %[s1]\n\t"
            "smlatb %[s1], %[a], %[wa1], %[s1]\n\t"
            "ldrd %[a], %[b], [%[c2]], #4\n\t"
            "smlad %[s0], %[a], %[wa2], %[s0]\n\t"
            "smlabt %[s0], %[b], %[wb2], %[s0]\n\t"
            "smlad %[s1], %[b], %[wb2], %[s1]\n\t"
            "smlatb %[s1], %[a], %[wa2], %[s1]\n\t"
            "strd %[s0], %[s1], [%[o]], #8\n\t"
            ".endr\n"
            "2:\n\t"
            : [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [o] "+r"(acc), [a] "=&r"(a), [b] "+r"(b),
              [s0] "=&r"(s0), [s1] "=&r"(s1)
            : [wa0] "r"(wa[0]), [wb0] "r"(wb[0]), [wa1] "r"(wa[1]), [wb1] "r"(wb[1]), [wa2] "r"(wa[2]),
              [wb2] "r"(wb[2])
            : "memory");
        pairs -= n;
#else
        /* With A = (x[y], x[y+1]), B = (x[y+2], x[y+3]) of kernel column dx: see the top. */
        int32_t s0 = 0, s1 = 0;
        const uint32_t *cols[3] = {c0, c1, c2};
        for (int dx = 0; dx < 3; dx++) {
            const uint32_t a = cols[dx][0], b = cols[dx][1];
            s0 = kws_smlabt(b, wb[dx], kws_smlad(a, wa[dx], s0));
            s1 = kws_smlatb(a, wa[dx], kws_smlad(b, wb[dx], s1));
        }
        acc[0] = s0;
        acc[1] = s1;
        acc += 2, c0++, c1++, c2++, pairs--;
#endif
    }
}
#endif

#if KWS_NN_DSP
/*
 * One column of n sums a[] requantized in the fast form into o, o + step, ...: 6 instructions per
 * output, the sums read two at a time. The pair loop is unrolled 16 times and entered part way,
 * as in column3x3 (each step is 12 32-bit instructions: 48 bytes); all constants stay in registers.
 */
static inline void requant_column(const int32_t *a, int n, int8_t *o, int32_t step, int32_t bias2, int32_t m,
                                  int32_t add, int32_t rs) {
    if (n & 1) { /* an odd first output alone, so that the pairs never write past the column */
        *o = (int8_t)kws_ssat8(kws_smmlar((int32_t)((uint32_t)bias2 + ((uint32_t)*a << 1)), m, add) >> rs);
        a++, o += step, n--;
    }
    for (int pairs = n / 2; pairs > 0;) {
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
        const int k = pairs < 16 ? pairs : 16;
        uint32_t x, y = (uint32_t)k * 48u;
        __asm volatile(
            "adr.w %[x], 2f\n\t"
            "sub %[x], %[x], %[y]\n\t"
            "mov pc, %[x]\n\t"
            ".rept 16\n\t"
            "ldrd %[x], %[y], [%[a]], #8\n\t"
            "add.w %[x], %[b2], %[x], lsl #1\n\t"
            "add.w %[y], %[b2], %[y], lsl #1\n\t"
            "smmlar %[x], %[x], %[m], %[ad]\n\t"
            "smmlar %[y], %[y], %[m], %[ad]\n\t"
            "asr.w %[x], %[x], %[rs]\n\t"
            "asr.w %[y], %[y], %[rs]\n\t"
            "ssat %[x], #8, %[x]\n\t"
            "ssat %[y], #8, %[y]\n\t"
            "strb.w %[x], [%[o]]\n\t"
            "strb.w %[y], [%[o], %[st]]\n\t"
            "add.w %[o], %[o], %[st], lsl #1\n\t"
            ".endr\n"
            "2:\n\t"
            : [a] "+r"(a), [o] "+r"(o), [x] "=&r"(x), [y] "+r"(y)
            : [b2] "r"(bias2), [m] "r"(m), [ad] "r"(add), [rs] "r"(rs), [st] "r"(step)
            : "memory");
        pairs -= k;
#else
        for (int i = 0; i < 2; i++, a++, o += step) {
            *o = (int8_t)kws_ssat8(kws_smmlar((int32_t)((uint32_t)bias2 + ((uint32_t)*a << 1)), m, add) >> rs);
        }
        pairs--;
#endif
    }
}

#if KWS_NN_DSP && defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP)
#define KWS_DW3_FUSED 1
/* What the fused assembly of a whole 3x3 stride-1 channel reads (out_h <= 33). */
typedef struct {
    const int16_t *plane; /* the channel's first input column */
    int32_t col_bytes;    /* bytes between input columns (h2p * 2) */
    int32_t col_step;     /* bytes from one output column's first input column to the next's */
    int32_t out_w;
    int32_t entry;        /* out_h / 2 * 132: the computed entry into the unrolled pairs */
    const uint32_t *wab;  /* wa0, wb0, wa1, wb1, wa2, wb2 (doubled in the assembly) */
    int8_t *out;          /* output column 0, row 0 of the channel */
    int32_t c_n;          /* bytes from one output column to the next */
    int32_t bias2, m, add, rs;
    int32_t step;         /* bytes from one output row to the next */
    int32_t odd;          /* out_h is odd: a last half pair per column */
} kws_dw3f_ctx_t;

/*
 * The sums of one output pair, started from the doubled bias with the doubled weights, so that
 * they are the 2 * acc SMMLAR takes (kws_nn_internal.h): registers r0-r5 the weight words, r6-r8
 * the three input columns, r10/r11 the inputs, r12/lr the two sums; the frame holds the
 * requantization constants (bias2, m, add, rs, step at sp + 0..16). 20 32-bit instructions.
 */
#define KWS_DW3F_SUMS                                                                              \
    "ldr.w r11, [r6, #4]\n\t"                                                                      \
    "ldr.w r10, [r6], #4\n\t"                                                                      \
    "ldr.w r12, [sp, #0]\n\t"                                                                      \
    "ldr.w lr, [sp, #0]\n\t"                                                                       \
    "smlad r12, r10, r0, r12\n\t"                                                                  \
    "smlabt r12, r11, r1, r12\n\t"                                                                 \
    "smlad lr, r11, r1, lr\n\t"                                                                    \
    "smlatb lr, r10, r0, lr\n\t"                                                                   \
    "ldr.w r11, [r7, #4]\n\t"                                                                      \
    "ldr.w r10, [r7], #4\n\t"                                                                      \
    "smlad r12, r10, r2, r12\n\t"                                                                  \
    "smlabt r12, r11, r3, r12\n\t"                                                                 \
    "smlad lr, r11, r3, lr\n\t"                                                                    \
    "smlatb lr, r10, r2, lr\n\t"                                                                   \
    "ldr.w r11, [r8, #4]\n\t"                                                                      \
    "ldr.w r10, [r8], #4\n\t"                                                                      \
    "smlad r12, r10, r4, r12\n\t"                                                                  \
    "smlabt r12, r11, r5, r12\n\t"                                                                 \
    "smlad lr, r11, r5, lr\n\t"                                                                    \
    "smlatb lr, r10, r4, lr\n\t"
/* The pair's sums, requantized and stored (r9: the output of its first row): 33 instructions, 132 bytes. */
#define KWS_DW3F_PAIR                                                                              \
    KWS_DW3F_SUMS                                                                                  \
    "ldr.w r10, [sp, #4]\n\t"                                                                      \
    "ldr.w r11, [sp, #8]\n\t"                                                                      \
    "smmlar r12, r12, r10, r11\n\t"                                                                \
    "smmlar lr, lr, r10, r11\n\t"                                                                  \
    "ldr.w r10, [sp, #12]\n\t"                                                                     \
    "ldr.w r11, [sp, #16]\n\t"                                                                     \
    "asr.w r12, r12, r10\n\t"                                                                      \
    "asr.w lr, lr, r10\n\t"                                                                        \
    "ssat r12, #8, r12\n\t"                                                                        \
    "ssat lr, #8, lr\n\t"                                                                          \
    "strb.w r12, [r9]\n\t"                                                                         \
    "strb.w lr, [r9, r11]\n\t"                                                                     \
    "add.w r9, r9, r11, lsl #1\n\t"

/*
 * Every output of one channel in one call: sums and requantization per output pair, with no array
 * of sums between them. Frame: bias2, m, add, rs, step (0..16), the output column's first input
 * column (20), col_bytes (24), col_step (28), the output column (32), c_n (36), columns left (40),
 * the entry address (44), odd (48).
 */
__attribute__((naked, noinline)) static void channel3x3_fused(const kws_dw3f_ctx_t *ctx __attribute__((unused))) {
    __asm volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #56\n\t"
        "mov lr, r0\n\t"
        "ldmia lr!, {r0-r7}\n\t"            /* plane, col_bytes, col_step, out_w, entry, wab, out, c_n */
        "str r0, [sp, #20]\n\t"
        "str r1, [sp, #24]\n\t"
        "str r2, [sp, #28]\n\t"
        "str r3, [sp, #40]\n\t"
        "str r6, [sp, #32]\n\t"
        "str r7, [sp, #36]\n\t"
        "adr.w r0, 2f\n\t"
        "sub r0, r0, r4\n\t"
        "orr r0, r0, #1\n\t"                /* Thumb state for the LDR PC below */
        "str r0, [sp, #44]\n\t"
        "ldmia lr!, {r0-r4}\n\t"            /* bias2, m, add, rs, step */
        "stmia sp, {r0-r4}\n\t"
        "ldr r0, [lr]\n\t"                  /* odd */
        "str r0, [sp, #48]\n\t"
        "mov r12, r5\n\t"
        "ldmia r12, {r0-r5}\n\t"            /* the weight words, every weight doubled (|w| <= 128: */
        "sadd16 r0, r0, r0\n\t"             /* still int16) */
        "sadd16 r1, r1, r1\n\t"
        "sadd16 r2, r2, r2\n\t"
        "sadd16 r3, r3, r3\n\t"
        "sadd16 r4, r4, r4\n\t"
        "sadd16 r5, r5, r5\n"
        "1:\n\t"
        "ldr r6, [sp, #20]\n\t"
        "ldr r10, [sp, #24]\n\t"
        "ldr r11, [sp, #28]\n\t"
        "ldr r9, [sp, #32]\n\t"
        "add r7, r6, r10\n\t"
        "add r8, r7, r10\n\t"
        "add r11, r6, r11\n\t"
        "str r11, [sp, #20]\n\t"
        "ldr r10, [sp, #36]\n\t"
        "add r10, r9, r10\n\t"
        "str r10, [sp, #32]\n\t"
        "ldr pc, [sp, #44]\n\t"
        ".rept 16\n\t" KWS_DW3F_PAIR ".endr\n"
        "2:\n\t"
        "ldr r10, [sp, #48]\n\t"
        "cmp r10, #0\n\t"
        "beq 3f\n\t"
        KWS_DW3F_SUMS                       /* an odd last output: the pair's first only */
        "ldr.w r10, [sp, #4]\n\t"
        "ldr.w r11, [sp, #8]\n\t"
        "smmlar r12, r12, r10, r11\n\t"
        "ldr.w r10, [sp, #12]\n\t"
        "asr.w r12, r12, r10\n\t"
        "ssat r12, #8, r12\n\t"
        "strb.w r12, [r9]\n"
        "3:\n\t"
        "ldr r10, [sp, #40]\n\t"
        "subs r10, r10, #1\n\t"
        "str r10, [sp, #40]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #56\n\t"
        "pop {r4-r11, pc}\n\t");
}
#endif

/*
 * Channel c of a 3x3 stride-1 layer whose requantization is the fast form over the whole int8
 * range: each output column is summed into acc (one column of sums) and requantized straight away,
 * one call per channel so that the weight words and the constants are set up once per channel.
 */
static __attribute__((noinline)) void channel3x3_fast(const kws_nn_depthwise_t *p, const int16_t *plane, int c, int h2p,
                                                      int32_t *acc, int8_t *out) {
    const int16_t *w = p->weights + (size_t)c * 9;
    /* (w[0][dx], w[1][dx]) and (w[1][dx], w[2][dx]) of kernel column dx. */
    uint32_t wab[6];
    for (int dx = 0; dx < 3; dx++) {
        wab[2 * dx] = (uint32_t)(uint16_t)w[dx] | ((uint32_t)(uint16_t)w[3 + dx] << 16);
        wab[2 * dx + 1] = (uint32_t)(uint16_t)w[3 + dx] | ((uint32_t)(uint16_t)w[6 + dx] << 16);
    }
    const int32_t m = p->q.mult[c], add = p->q.fast_add[c], rs = -p->q.shift[c];
    const int32_t bias2 = (int32_t)((uint32_t)p->q.bias[c] * 2u);
    const int c_n = p->c, out_h = p->out_h, out_w = p->out_w;
    const int32_t step = out_w * c_n;
    const size_t col_step = (size_t)p->stride_w * h2p;
    out += c;
    for (int ox = 0; ox < out_w; ox++, plane += col_step, out += c_n) {
        column3x3((const uint32_t *)(const void *)plane, h2p / 2, wab, out_h, acc);
        requant_column(acc, out_h, out, step, bias2, m, add, rs);
    }
}
#endif

#if !KWS_NN_DSP
/*
 * Channel c of a 3x3 layer on the portable path (the ESP32's Xtensa): each output straight from
 * its nine int16 inputs, read at fixed offsets of pointers walking down the columns, two outputs
 * a step; one 16 x 16 multiply and one add a MAC, no array of sums. The fast form when the generator proved it exact over the whole int8
 * range, else TFLM's reference form.
 */
static __attribute__((noinline)) void channel3x3_portable(const kws_nn_depthwise_t *p, const int16_t *plane, int c,
                                                          int h2p, int8_t *out) {
    const int16_t *w = p->weights + (size_t)c * 9;
    const int32_t w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5], w20 = w[6], w21 = w[7],
                  w22 = w[8];
    const int fast = p->q.fast_add != NULL && p->q.act_min <= -128 && p->q.act_max >= 127;
    const int32_t m = p->q.mult[c], add = fast ? p->q.fast_add[c] : 0, rs = -p->q.shift[c], bias = p->q.bias[c];
    const int c_n = p->c, out_h = p->out_h, out_w = p->out_w;
    const size_t row_step = (size_t)out_w * c_n, col_step = (size_t)p->stride_w * h2p;
    for (int ox = 0; ox < out_w; ox++, plane += col_step) {
        const int16_t *x0 = plane, *x1 = plane + h2p, *x2 = plane + 2 * h2p;
        int8_t *o = out + (size_t)ox * c_n + c;
        int oy = 0;
        /* Two vertically adjacent outputs per step: they share four of each column's six inputs,
         * so a step loads 12 inputs (not 18) and each weight reloaded from the stack (nine weights,
         * the constants and the pointers do not all fit in 16 registers) serves two MACs. */
        for (; oy + 2 <= out_h; oy += 2, x0 += 2, x1 += 2, x2 += 2, o += 2 * row_step) {
            int32_t a = bias, b = bias, v0, v1, v2, v3;
            v0 = x0[0], v1 = x0[1], v2 = x0[2], v3 = x0[3];
            a += v0 * w00 + v1 * w10 + v2 * w20, b += v1 * w00 + v2 * w10 + v3 * w20;
            v0 = x1[0], v1 = x1[1], v2 = x1[2], v3 = x1[3];
            a += v0 * w01 + v1 * w11 + v2 * w21, b += v1 * w01 + v2 * w11 + v3 * w21;
            v0 = x2[0], v1 = x2[1], v2 = x2[2], v3 = x2[3];
            a += v0 * w02 + v1 * w12 + v2 * w22, b += v1 * w02 + v2 * w12 + v3 * w22;
            if (fast) {
                o[0] = (int8_t)kws_ssat8_c(kws_smmlar_c(a + a, m, add) >> rs);
                o[row_step] = (int8_t)kws_ssat8_c(kws_smmlar_c(b + b, m, add) >> rs);
            } else {
                o[0] = kws_requant_ref(&p->q, c, a);
                o[row_step] = kws_requant_ref(&p->q, c, b);
            }
        }
        for (; oy < out_h; oy++, x0++, x1++, x2++, o += row_step) {
            int32_t a = bias + x0[0] * w00 + x0[1] * w10 + x0[2] * w20;
            a += x1[0] * w01 + x1[1] * w11 + x1[2] * w21;
            a += x2[0] * w02 + x2[1] * w12 + x2[2] * w22;
            *o = fast ? (int8_t)kws_ssat8_c(kws_smmlar_c(a + a, m, add) >> rs) : kws_requant_ref(&p->q, c, a);
        }
    }
}
#endif

/*
 * Sums of every output of one channel (the bias NOT included: the requantization adds it) from its
 * plane, column by column: acc[ox * oh2 + oy], oh2 = out_h rounded up to even. One call per channel
 * so that the weight words are built once per channel, not once per column.
 */
static __attribute__((noinline)) void channel_acc(const kws_nn_depthwise_t *p, const int16_t *plane, const int16_t *w, int h2p, int32_t *acc) {
    const int kh = p->k_h, kw = p->k_w, sh = p->stride_h, sw = p->stride_w, out_h = p->out_h;
    const int oh2 = (out_h + 1) & ~1;
#if KWS_NN_DSP
    if (kh == 3 && kw == 3 && sh == 1) {
        /* (w[0][dx], w[1][dx]) and (w[1][dx], w[2][dx]) of kernel column dx, once per channel. */
        uint32_t wab[6];
        for (int dx = 0; dx < 3; dx++) {
            wab[2 * dx] = (uint32_t)(uint16_t)w[dx] | ((uint32_t)(uint16_t)w[3 + dx] << 16);
            wab[2 * dx + 1] = (uint32_t)(uint16_t)w[3 + dx] | ((uint32_t)(uint16_t)w[6 + dx] << 16);
        }
        for (int ox = 0; ox < p->out_w; ox++) {
            column3x3((const uint32_t *)(const void *)(plane + (size_t)ox * sw * h2p), h2p / 2, wab, out_h, acc + ox * oh2);
        }
        return;
    }
#endif
    for (int ox = 0; ox < p->out_w; ox++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int16_t *x = plane + (size_t)ox * sw * h2p + (size_t)oy * sh;
            int32_t a = 0;
            for (int kx = 0; kx < kw; kx++, x += h2p) {
                for (int ky = 0; ky < kh; ky++) a += (int32_t)x[ky] * w[ky * kw + kx];
            }
            acc[ox * oh2 + oy] = a;
        }
    }
}

/*
 * A time-only depthwise convolution (k_w 1, stride 1, no padding, the input offset folded into the
 * bias by the generator): the streaming architectures' layer. Straight from the int8 input, one
 * channel at a time, the taps of a column read a row stride apart; no scratch.
 */
#if KWS_NN_DSP
static inline uint32_t pair16(int32_t lo, int32_t hi) { return (uint32_t)(uint16_t)lo | ((uint32_t)hi << 16); }

/* 5 taps, fast requantization without clamping, one pixel per row: two outputs per step, each two
 * SMLAD over (row, row + 1) pairs of inputs plus one SMLABB-shaped product. */
static __attribute__((noinline)) void depthwise_rows5(const kws_nn_depthwise_t *p, const int8_t *in, int8_t *out) {
    const int c_n = p->c, out_h = p->out_h;
    for (int c = 0; c < c_n; c++) {
        const int16_t *w = p->weights + (size_t)c * 5;
        const uint32_t w01 = pair16(w[0], w[1]), w23 = pair16(w[2], w[3]);
        const int32_t w4 = w[4], bias = p->q.bias[c], m = p->q.mult[c], add = p->q.fast_add[c], rsh = -p->q.shift[c];
        const int8_t *s = in + c;
        int8_t *o = out + c;
        int32_t x0 = s[0], x1 = s[c_n], x2 = s[2 * c_n], x3 = s[3 * c_n];
        s += 4 * (size_t)c_n;
        int y = 0;
        for (; y + 2 <= out_h; y += 2) {
            const int32_t x4 = s[0], x5 = s[c_n];
            s += 2 * (size_t)c_n;
            const int32_t a = kws_smlad(pair16(x0, x1), w01, kws_smlad(pair16(x2, x3), w23, bias + x4 * w4));
            const int32_t b = kws_smlad(pair16(x1, x2), w01, kws_smlad(pair16(x3, x4), w23, bias + x5 * w4));
            o[0] = (int8_t)kws_ssat8(kws_smmlar(a + a, m, add) >> rsh);
            o[c_n] = (int8_t)kws_ssat8(kws_smmlar(b + b, m, add) >> rsh);
            o += 2 * (size_t)c_n;
            x0 = x2; x1 = x3; x2 = x4; x3 = x5;
        }
        if (y < out_h) {
            const int32_t x4 = s[0];
            const int32_t a = kws_smlad(pair16(x0, x1), w01, kws_smlad(pair16(x2, x3), w23, bias + x4 * w4));
            o[0] = (int8_t)kws_ssat8(kws_smmlar(a + a, m, add) >> rsh);
        }
    }
}
#endif

static __attribute__((noinline)) void depthwise_rows(const kws_nn_depthwise_t *p, const int8_t *in, int8_t *out) {
    const int c_n = p->c, kh = p->k_h, out_h = p->out_h, n_px = p->out_w;
#if KWS_NN_DSP
    if (kh == 5 && n_px == 1 && p->q.fast_add != NULL && p->q.act_min <= -128 && p->q.act_max >= 127) {
        depthwise_rows5(p, in, out);
        return;
    }
#endif
    const size_t rs = (size_t)n_px * c_n;
    for (int c = 0; c < c_n; c++) {
        const int16_t *w = p->weights + (size_t)c * kh;
        const int32_t bias = p->q.bias[c];
#if KWS_NN_DSP
        const int32_t m = p->q.mult[c], rsh = -p->q.shift[c];
        const int32_t add = p->q.fast_add != NULL ? p->q.fast_add[c] : 0;
#endif
        for (int x = 0; x < n_px; x++) {
            const int8_t *src = in + (size_t)x * c_n + c;
            int8_t *dst = out + (size_t)x * c_n + c;
            for (int y = 0; y < out_h; y++, src += rs, dst += rs) {
                int32_t acc = bias;
                const int8_t *s = src;
                for (int t = 0; t < kh; t++, s += rs) acc += (int32_t)*s * w[t];
#if KWS_NN_DSP
                if (p->q.fast_add != NULL) {
                    *dst = kws_requant_fast(acc, m, add, rsh, p->q.act_min, p->q.act_max);
                    continue;
                }
#endif
                *dst = kws_requant_ref(&p->q, c, acc);
            }
        }
    }
}

void kws_nn_depthwise(const kws_nn_depthwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    if (p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 && p->in_offset == 0 &&
        p->out_w == p->in_w && p->in_h == p->out_h + p->k_h - 1 && in != out) {
        depthwise_rows(p, in, out);
        return;
    }
    const int c_n = p->c, taps = p->k_h * p->k_w, out_h = p->out_h, out_w = p->out_w;
    const int h2 = (out_h - 1) * p->stride_h + p->k_h, w2 = (out_w - 1) * p->stride_w + p->k_w;
    /* Even column length: aligned words; +1 row when out_h is odd for the dropped output's taps. */
    const int h2p = (h2 + 1 + (out_h & 1)) & ~1;
    const size_t plane = (size_t)w2 * h2p;
    const size_t row_step = (size_t)out_w * c_n;
    memset(scratch, 0, GROUP * plane * sizeof(int16_t));
    int32_t *acc = (int32_t *)(void *)(scratch + GROUP * plane); /* out_w columns of oh2 sums */
    const int oh2 = (out_h + 1) & ~1;
#if KWS_NN_DSP
    const int fast3x3 = p->k_h == 3 && p->k_w == 3 && p->stride_h == 1 && p->q.fast_add != NULL &&
                        p->q.act_min <= -128 && p->q.act_max >= 127;
#endif
#if defined(KWS_DW3_FUSED)
    /* The fused kernel: the layer's part of its context once, each channel's part in the loop. */
    const int fused = fast3x3 && out_h <= 33;
    kws_dw3f_ctx_t f = {NULL, h2p * 2, (int32_t)((size_t)p->stride_w * h2p * 2), out_w, out_h / 2 * 132, NULL, NULL,
                        c_n, 0, 0, 0, 0, (int32_t)(out_w * c_n), out_h & 1};
#endif
    for (int c0 = 0; c0 < c_n; c0 += GROUP) {
        const int g = c_n - c0 < GROUP ? c_n - c0 : GROUP;
        load_group(p, in, c0, g, scratch, h2, w2, h2p);
        for (int j = 0; j < g; j++) {
            const int c = c0 + j;
#if defined(KWS_DW3_FUSED)
            if (fused) {
                const int16_t *w = p->weights + (size_t)c * 9;
                /* (w[0][dx], w[1][dx]) and (w[1][dx], w[2][dx]) of kernel column dx. */
                uint32_t wab[6];
                for (int dx = 0; dx < 3; dx++) {
                    wab[2 * dx] = (uint32_t)(uint16_t)w[dx] | ((uint32_t)(uint16_t)w[3 + dx] << 16);
                    wab[2 * dx + 1] = (uint32_t)(uint16_t)w[3 + dx] | ((uint32_t)(uint16_t)w[6 + dx] << 16);
                }
                f.plane = scratch + (size_t)j * plane, f.wab = wab, f.out = out + c;
                f.bias2 = (int32_t)((uint32_t)p->q.bias[c] * 2u), f.m = p->q.mult[c], f.add = p->q.fast_add[c];
                f.rs = -p->q.shift[c];
                channel3x3_fused(&f);
                continue;
            }
#endif
#if KWS_NN_DSP
            if (fast3x3) {
                channel3x3_fast(p, scratch + (size_t)j * plane, c, h2p, acc, out);
                continue;
            }
#endif
#if !KWS_NN_DSP
            if (p->k_h == 3 && p->k_w == 3 && p->stride_h == 1) {
                channel3x3_portable(p, scratch + (size_t)j * plane, c, h2p, out);
                continue;
            }
#endif
            channel_acc(p, scratch + (size_t)j * plane, p->weights + (size_t)c * taps, h2p, acc);
            const int32_t bias = p->q.bias[c];
            for (int ox = 0; ox < out_w; ox++) {
                int8_t *o = out + (size_t)ox * c_n + c;
                for (int i = 0; i < out_h; i++, o += row_step) {
#if KWS_NN_DSP
                    if (p->q.fast_add != NULL) {
                        *o = kws_requant_fast(acc[ox * oh2 + i] + bias, p->q.mult[c], p->q.fast_add[c], -p->q.shift[c],
                                              p->q.act_min, p->q.act_max);
                        continue;
                    }
#endif
                    *o = kws_requant_ref(&p->q, c, acc[ox * oh2 + i] + bias);
                }
            }
        }
    }
}
