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

#if defined(__GNUC__) && !defined(__clang__)
/* The hot loop of the whole network runs here; -O2 (scheduling, no size-driven spills) is worth it
 * even in the board's -Os build, on both paths. On a core with 16 registers and no DSP pairs
 * (Xtensa) the scheduler's early loads would spill the accumulators: not there. */
#pragma GCC optimize("O2")
#if !KWS_NN_DSP
#pragma GCC optimize("no-schedule-insns")
#endif
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

/*
 * --- The packed stream (kws_nn.h): 2 output channels x 2 pixels per block -----------------------
 *
 * Two pixels' int16 inputs sit in scratch as x[step][4] = (p0 pair 2s, p1 pair 2s, p0 pair 2s+1,
 * p1 pair 2s+1). A step of the block is then two 4-register LDMs (the weights of 2 channels x 2
 * pairs, the inputs of 2 pixels x 2 pairs) and 8 SMLADs: 10 instructions for 16 MACs, against 11
 * for the 2 x 4 block above, with 4 accumulators instead of 8, so that the requantization and the
 * stores of a block fit in the registers too and the whole layer runs in one assembly loop. On the
 * M4 the 1x1 layers and the single-channel first convolution use the stream's 2 x 4 block below
 * (packed_blocks4: 16 cycles for 16 MACs against this block's 18); this one takes their last 1 or
 * 2 pixels and the other convolutions.
 */
#if defined(__ARM_FEATURE_DSP) && !defined(KWS_NN_EMULATE_DSP) && !defined(KWS_NN_PORTABLE)
#define KWS_PACKED_ASM 1
#else
#define KWS_PACKED_ASM 0
#endif

/* Two pixels (p0, p1; p1 == p0 for a short last group) of a 1x1 convolution's input, widened. */
static void widen_pair(const int8_t *p0, const int8_t *p1, int in_c, uint32_t *x) {
#if KWS_PACKED_ASM
    /* 10 instructions per 4 channels (C gives 15: separate index arithmetic and single stores). */
    uint32_t v0, v1, t0, t1;
    int n = in_c / 4;
    __asm volatile(
        "1:\n\t"
        "ldr %[v0], [%[p0]], #4\n\t"
        "ldr %[v1], [%[p1]], #4\n\t"
        "sxtb16 %[t0], %[v0]\n\t"
        "sxtb16 %[t1], %[v1]\n\t"
        "strd %[t0], %[t1], [%[x]], #8\n\t"
        "sxtb16 %[t0], %[v0], ror #8\n\t"
        "sxtb16 %[t1], %[v1], ror #8\n\t"
        "strd %[t0], %[t1], [%[x]], #8\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [p0] "+r"(p0), [p1] "+r"(p1), [x] "+r"(x), [n] "+r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1), [t0] "=&r"(t0),
          [t1] "=&r"(t1)
        :
        : "cc", "memory");
    return;
#endif
    for (int c = 0; c < in_c; c += 4, x += 4) {
        uint32_t v0, v1;
        memcpy(&v0, p0 + c, 4);
        memcpy(&v1, p1 + c, 4);
#if KWS_NN_DSP
        x[0] = kws_sxtb16(v0);
        x[1] = kws_sxtb16(v1);
        x[2] = kws_sxtb16_ror8(v0);
        x[3] = kws_sxtb16_ror8(v1);
#else
        /* The same words without the DSP extension: (c0, c2) then (c1, c3), int16 each. */
        const int8_t *a = p0 + c, *b = p1 + c;
        x[0] = (uint32_t)(uint16_t)a[0] | (uint32_t)(uint16_t)a[2] << 16;
        x[1] = (uint32_t)(uint16_t)b[0] | (uint32_t)(uint16_t)b[2] << 16;
        x[2] = (uint32_t)(uint16_t)a[1] | (uint32_t)(uint16_t)a[3] << 16;
        x[3] = (uint32_t)(uint16_t)b[1] | (uint32_t)(uint16_t)b[3] << 16;
#endif
    }
}

#if KWS_PACKED_ASM
/* What the assembly loop reads; o1 - o0 = stride (0 when both pixels are the same one). */
typedef struct {
    const uint32_t *x;
    int32_t first;   /* steps of the first entry into the unrolled loop (1..16) */
    int8_t *o;       /* output of pixel 0, channel 0 */
    int32_t stride;  /* bytes from pixel 0's output to pixel 1's */
    const int32_t *w;
    const uint32_t *x_end;
    int32_t multi;   /* more than 16 steps: the looping copy of the unrolled steps */
} kws_packed_ctx_t;

#define KWS_PACKED_STEP                                                                            \
    "ldmia.w r12!, {r4-r7}\n\t"                                                                    \
    "ldmia.w lr!, {r8-r11}\n\t"                                                                    \
    "smlad r0, r8, r4, r0\n\t"                                                                     \
    "smlad r1, r9, r4, r1\n\t"                                                                     \
    "smlad r2, r8, r5, r2\n\t"                                                                     \
    "smlad r3, r9, r5, r3\n\t"                                                                     \
    "smlad r0, r10, r6, r0\n\t"                                                                    \
    "smlad r1, r11, r6, r1\n\t"                                                                    \
    "smlad r2, r10, r7, r2\n\t"                                                                    \
    "smlad r3, r11, r7, r3\n\t"

/*
 * Every block of the stream for one pair of pixels. Registers: r0-r3 the accumulators (a p0,
 * a p1, b p0, b p1), r4-r11 the loaded words, r12 the stream, lr the inputs; the frame holds
 * x, the entry address, o, stride and x_end. A step is 40 bytes of 32-bit instructions, so the
 * entry into the unrolled steps is computed (the first entry runs the steps modulo 16), and
 * layers of up to 16 steps (64 input channels) run a copy without the loop test.
 */
__attribute__((naked, noinline)) static void packed_blocks(const kws_packed_ctx_t *ctx __attribute__((unused))) {
    __asm volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #20\n\t"
        "ldm r0, {r1-r7}\n\t"               /* x, first, o, stride, w, x_end, multi */
        "cbz r7, 1f\n\t"
        "adr.w r7, 3f\n\t"
        "b 2f\n"
        "1:\n\t"
        "adr.w r7, 5f\n"
        "2:\n\t"
        "movs r0, #40\n\t"
        "mls r7, r2, r0, r7\n\t"
        "orr r7, r7, #1\n\t"                /* Thumb state for the LDR PC below */
        "str r1, [sp, #0]\n\t"
        "str r7, [sp, #4]\n\t"
        "strd r3, r4, [sp, #8]\n\t"
        "str r6, [sp, #16]\n\t"
        "mov r12, r5\n\t"
        "b 4f\n"
        /* The looping copy: after each 16 steps, again until the inputs are used up. */
        "6:\n\t"
        ".rept 16\n\t" KWS_PACKED_STEP ".endr\n"
        "3:\n\t"
        "ldr r4, [sp, #16]\n\t"
        "cmp lr, r4\n\t"
        "bne 6b\n\t"
        "b 7f\n"
        "4:\n\t"
        "ldmia.w r12!, {r0-r3}\n\t"         /* the doubled biases */
        "ldr lr, [sp, #0]\n\t"
        "ldr pc, [sp, #4]\n\t"
        ".rept 16\n\t" KWS_PACKED_STEP ".endr\n"
        "5:\n"
        "7:\n\t"
        "ldmia.w r12!, {r4-r10}\n\t"        /* mult, add, shift of a and b, last */
        "ldrd r11, lr, [sp, #8]\n\t"
        "smmlar r0, r0, r4, r5\n\t"
        "smmlar r1, r1, r4, r5\n\t"
        "smmlar r2, r2, r7, r8\n\t"
        "smmlar r3, r3, r7, r8\n\t"
        "asr.w r0, r0, r6\n\t"
        "asr.w r1, r1, r6\n\t"
        "asr.w r2, r2, r9\n\t"
        "asr.w r3, r3, r9\n\t"
        "ssat r0, #8, r0\n\t"
        "ssat r1, #8, r1\n\t"
        "ssat r2, #8, r2\n\t"
        "ssat r3, #8, r3\n\t"
        /* Pixel 1 first: when it is pixel 0 again (stride 0) the values are the same. */
        "strb r1, [r11, lr]\n\t"
        "strb r0, [r11], #1\n\t"
        "strb r3, [r11, lr]\n\t"
        "strb r2, [r11], #1\n\t"
        "str r11, [sp, #8]\n\t"
        "cmp r10, #0\n\t"
        "beq 4b\n\t"
        "add sp, sp, #20\n\t"
        "pop {r4-r11, pc}\n\t");
}
#endif

#if KWS_PACKED_ASM
/*
 * --- 2 output channels x 4 pixels on the packed stream -----------------------------------------
 *
 * The same stream, four pixels' int16 inputs in scratch as x[step][8] = (p0..p3 pair 2s, p0..p3
 * pair 2s+1). Eight accumulators (r0-r3 channel a of pixels 0-3, r4-r7 channel b), the stream in
 * r12 and the inputs in lr leave four registers for data, so a pair is a run of four single loads
 * (the weights of both channels, pixels 0 and 1: 5 cycles, the loads pipeline), 4 SMLADs, a run of
 * two (pixels 2 and 3: 3 cycles) and 4 SMLADs: 16 cycles for 16 MACs, against 18 for the 2 x 2
 * block's two 4-register LDMs; the requantization constants are read once per 8 outputs, not 4.
 */
typedef struct {
    const uint32_t *x;
    int32_t first;          /* steps of the first entry into the unrolled loop (1..16) */
    int8_t *o;              /* output of pixel 0, channel 0 */
    int32_t d1, d2, d3;     /* bytes from pixel 0's output to pixel 1's, 2's, 3's (may repeat) */
    const int32_t *w;
    const uint32_t *x_end;
    int32_t multi;          /* more than 16 steps: the looping copy of the unrolled steps */
} kws_packed4_ctx_t;

#define KWS_PACKED4_PAIR                                                                           \
    "ldr.w r8, [r12], #4\n\t"                                                                      \
    "ldr.w r9, [r12], #4\n\t"                                                                      \
    "ldr.w r10, [lr], #4\n\t"                                                                      \
    "ldr.w r11, [lr], #4\n\t"                                                                      \
    "smlad r0, r10, r8, r0\n\t"                                                                    \
    "smlad r1, r11, r8, r1\n\t"                                                                    \
    "smlad r4, r10, r9, r4\n\t"                                                                    \
    "smlad r5, r11, r9, r5\n\t"                                                                    \
    "ldr.w r10, [lr], #4\n\t"                                                                      \
    "ldr.w r11, [lr], #4\n\t"                                                                      \
    "smlad r2, r10, r8, r2\n\t"                                                                    \
    "smlad r3, r11, r8, r3\n\t"                                                                    \
    "smlad r6, r10, r9, r6\n\t"                                                                    \
    "smlad r7, r11, r9, r7\n\t"
#define KWS_PACKED4_STEP KWS_PACKED4_PAIR KWS_PACKED4_PAIR /* 28 32-bit instructions: 112 bytes */

/* Every block of the stream for four pixels; the frame holds x, the entry address, o, d1-d3, x_end. */
__attribute__((naked, noinline)) static void packed_blocks4(const kws_packed4_ctx_t *ctx __attribute__((unused))) {
    __asm volatile(
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #28\n\t"
        "ldm r0, {r1-r9}\n\t"               /* x, first, o, d1, d2, d3, w, x_end, multi */
        "str r1, [sp, #0]\n\t"
        "str r3, [sp, #8]\n\t"
        "str r4, [sp, #12]\n\t"
        "str r5, [sp, #16]\n\t"
        "str r6, [sp, #20]\n\t"
        "str r8, [sp, #24]\n\t"
        "mov r12, r7\n\t"
        "cmp r9, #0\n\t"
        "beq 1f\n\t"
        "adr.w r7, 3f\n\t"
        "b 2f\n"
        "1:\n\t"
        "adr.w r7, 5f\n"
        "2:\n\t"
        "movs r0, #112\n\t"
        "mls r7, r2, r0, r7\n\t"
        "orr r7, r7, #1\n\t"                /* Thumb state for the LDR PC below */
        "str r7, [sp, #4]\n\t"
        "b 4f\n"
        /* The looping copy: after each 16 steps, again until the inputs are used up. */
        "6:\n\t"
        ".rept 16\n\t" KWS_PACKED4_STEP ".endr\n"
        "3:\n\t"
        "ldr r8, [sp, #24]\n\t"
        "cmp lr, r8\n\t"
        "bne 6b\n\t"
        "b 7f\n"
        "4:\n\t"
        "ldmia.w r12!, {r0, r1, r4, r5}\n\t" /* the doubled biases: a, a, b, b */
        "mov r2, r0\n\t"
        "mov r3, r1\n\t"
        "mov r6, r4\n\t"
        "mov r7, r5\n\t"
        "ldr lr, [sp, #0]\n\t"
        "ldr pc, [sp, #4]\n\t"
        ".rept 16\n\t" KWS_PACKED4_STEP ".endr\n"
        "5:\n"
        "7:\n\t"
        "ldmia.w r12!, {r8-r10}\n\t"        /* mult, add, shift of a */
        "smmlar r0, r0, r8, r9\n\t"
        "smmlar r1, r1, r8, r9\n\t"
        "smmlar r2, r2, r8, r9\n\t"
        "smmlar r3, r3, r8, r9\n\t"
        "asr.w r0, r0, r10\n\t"
        "asr.w r1, r1, r10\n\t"
        "asr.w r2, r2, r10\n\t"
        "asr.w r3, r3, r10\n\t"
        "ssat r0, #8, r0\n\t"
        "ssat r1, #8, r1\n\t"
        "ssat r2, #8, r2\n\t"
        "ssat r3, #8, r3\n\t"
        "ldmia.w r12!, {r8-r11}\n\t"        /* mult, add, shift of b, last */
        "smmlar r4, r4, r8, r9\n\t"
        "smmlar r5, r5, r8, r9\n\t"
        "smmlar r6, r6, r8, r9\n\t"
        "smmlar r7, r7, r8, r9\n\t"
        "asr.w r4, r4, r10\n\t"
        "asr.w r5, r5, r10\n\t"
        "asr.w r6, r6, r10\n\t"
        "asr.w r7, r7, r10\n\t"
        "ssat r4, #8, r4\n\t"
        "ssat r5, #8, r5\n\t"
        "ssat r6, #8, r6\n\t"
        "ssat r7, #8, r7\n\t"
        "ldr r8, [sp, #8]\n\t"
        "ldr r9, [sp, #12]\n\t"
        "ldr r10, [sp, #16]\n\t"
        "ldr lr, [sp, #20]\n\t"
        /* A repeated pixel has the same inputs, so the same values: the order does not matter. */
        "strb r1, [r8, r9]\n\t"
        "strb r2, [r8, r10]\n\t"
        "strb r3, [r8, lr]\n\t"
        "strb r0, [r8], #1\n\t"
        "strb r5, [r8, r9]\n\t"
        "strb r6, [r8, r10]\n\t"
        "strb r7, [r8, lr]\n\t"
        "strb r4, [r8], #1\n\t"
        "str r8, [sp, #8]\n\t"
        "cmp r11, #0\n\t"
        "beq 4b\n\t"
        "add sp, sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* Four pixels (p, p + d1, p + d2, p + d3; offsets may repeat) of in_c int8 into x[step][8]. */
static void widen4_asm(const int8_t *p, int32_t d1, int32_t d2, int32_t d3, int in_c, uint32_t *x) {
    uint32_t v0, v1, v2, v3, t0, t1;
    int n = in_c / 4;
    __asm volatile(
        "1:\n\t"
        "ldr %[v1], [%[p], %[d1]]\n\t"
        "ldr %[v2], [%[p], %[d2]]\n\t"
        "ldr %[v3], [%[p], %[d3]]\n\t"
        "ldr %[v0], [%[p]], #4\n\t"
        "sxtb16 %[t0], %[v0]\n\t"
        "sxtb16 %[t1], %[v1]\n\t"
        "strd %[t0], %[t1], [%[x]]\n\t"
        "sxtb16 %[t0], %[v2]\n\t"
        "sxtb16 %[t1], %[v3]\n\t"
        "strd %[t0], %[t1], [%[x], #8]\n\t"
        "sxtb16 %[t0], %[v0], ror #8\n\t"
        "sxtb16 %[t1], %[v1], ror #8\n\t"
        "strd %[t0], %[t1], [%[x], #16]\n\t"
        "sxtb16 %[t0], %[v2], ror #8\n\t"
        "sxtb16 %[t1], %[v3], ror #8\n\t"
        "strd %[t0], %[t1], [%[x], #24]\n\t"
        "adds %[x], %[x], #32\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [p] "+r"(p), [x] "+r"(x), [n] "+r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3),
          [t0] "=&r"(t0), [t1] "=&r"(t1)
        : [d1] "r"(d1), [d2] "r"(d2), [d3] "r"(d3)
        : "cc", "memory");
}
#endif

/* The blocks of the stream for pixels (o0, o0 + stride) from the widened inputs x (steps of 4 words). */
static void packed_run(const int32_t *w, int steps, const uint32_t *x, int8_t *o0, int stride, const kws_nn_quant_t *q) {
#if KWS_PACKED_ASM
    (void)q;
    const kws_packed_ctx_t ctx = {x, (steps - 1) % 16 + 1, o0, stride, w, x + 4 * steps, steps > 16};
    packed_blocks(&ctx);
#elif KWS_NN_DSP
    for (int c = 0;; c += 2) {
        int32_t a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
        w += 4;
        for (int s = 0; s < steps; s++, w += 4) {
            const uint32_t *xs = x + 4 * s;
            a0 = kws_smlad(xs[0], (uint32_t)w[0], a0), a1 = kws_smlad(xs[1], (uint32_t)w[0], a1);
            b0 = kws_smlad(xs[0], (uint32_t)w[1], b0), b1 = kws_smlad(xs[1], (uint32_t)w[1], b1);
            a0 = kws_smlad(xs[2], (uint32_t)w[2], a0), a1 = kws_smlad(xs[3], (uint32_t)w[2], a1);
            b0 = kws_smlad(xs[2], (uint32_t)w[3], b0), b1 = kws_smlad(xs[3], (uint32_t)w[3], b1);
        }
        (void)q;
        o0[stride + c] = (int8_t)kws_ssat8(kws_smmlar(a1, w[0], w[1]) >> w[2]);
        o0[c] = (int8_t)kws_ssat8(kws_smmlar(a0, w[0], w[1]) >> w[2]);
        o0[stride + c + 1] = (int8_t)kws_ssat8(kws_smmlar(b1, w[3], w[4]) >> w[5]);
        o0[c + 1] = (int8_t)kws_ssat8(kws_smmlar(b0, w[3], w[4]) >> w[5]);
        const int last = w[6] != 0;
        w += 7;
        if (last) break;
    }
#else
    /*
     * Without the DSP extension (the ESP32's Xtensa, the host): the same stream, its int16 weights
     * and the widened inputs read as int16, one 16 x 16 multiply and one add per MAC. A step's
     * int16 are wa(k) = w16[0..1], wb(k) = w16[2..3], wa(k+1) = w16[4..5], wb(k+1) = w16[6..7]; the
     * inputs x16[0..1] pixel 0's pair k, [2..3] pixel 1's, [4..5] and [6..7] their pair k + 1.
     */
    (void)q;
    const kws_i16_alias *x16 = (const kws_i16_alias *)(const void *)x;
    const kws_i16_alias *const x_end = x16 + 8 * steps;
    for (int c = 0;; c += 2) {
        int32_t a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
        const kws_i16_alias *ws = (const kws_i16_alias *)(const void *)(w + 4);
        for (const kws_i16_alias *xs = x16; xs != x_end; xs += 8, ws += 8) {
            const int32_t wa0 = ws[0], wa1 = ws[1], wb0 = ws[2], wb1 = ws[3];
            const int32_t wa2 = ws[4], wa3 = ws[5], wb2 = ws[6], wb3 = ws[7];
            int32_t v = xs[0];
            a0 += v * wa0, b0 += v * wb0;
            v = xs[1], a0 += v * wa1, b0 += v * wb1;
            v = xs[2], a1 += v * wa0, b1 += v * wb0;
            v = xs[3], a1 += v * wa1, b1 += v * wb1;
            v = xs[4], a0 += v * wa2, b0 += v * wb2;
            v = xs[5], a0 += v * wa3, b0 += v * wb3;
            v = xs[6], a1 += v * wa2, b1 += v * wb2;
            v = xs[7], a1 += v * wa3, b1 += v * wb3;
        }
        w += 4 + 4 * steps;
        /* The DSP path's requantization in C (the accumulators are 2 * acc, see kws_nn.h). */
        o0[stride + c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a1, w[0], w[1]) >> w[2]);
        o0[c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a0, w[0], w[1]) >> w[2]);
        o0[stride + c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b1, w[3], w[4]) >> w[5]);
        o0[c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b0, w[3], w[4]) >> w[5]);
        const int last = w[6] != 0;
        w += 7;
        if (last) break;
    }
#endif
}

#if !KWS_NN_DSP
/*
 * Four pixels of a 1x1 layer against the packed stream (the portable path): two channels x four
 * pixels per pass, so each weight is loaded once for four MACs and each input once for two. The
 * inputs x16[s * 16 + e * 4 + pix] hold element e of step s of every pixel, e in the stream's order
 * (channels 4s, 4s+2, 4s+1, 4s+3: the DSP path's SXTB16 pairs). o[] may repeat a pixel.
 */
static void packed_run4(const int32_t *w, int steps, const int16_t *x16, int8_t *const o[PIX]) {
    const int16_t *const x_end = x16 + 16 * steps;
    int8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
    for (int c = 0;; c += 2) {
        int32_t a0 = w[0], b0 = w[2];
        int32_t a1 = a0, a2 = a0, a3 = a0, b1 = b0, b2 = b0, b3 = b0;
        const kws_i16_alias *ws = (const kws_i16_alias *)(const void *)(w + 4);
        for (const int16_t *xs = x16; xs != x_end; xs += 16, ws += 8) {
            /* Element e of channel a is ws[0, 1, 4, 5][e], of channel b ws[2, 3, 6, 7][e]. */
#define KWS_MAC_4X2(e, ia, ib)                                                  \
    do {                                                                       \
        const int32_t wa = ws[ia], wb = ws[ib];                                \
        int32_t v = xs[4 * (e)];                                               \
        a0 += v * wa, b0 += v * wb;                                            \
        v = xs[4 * (e) + 1], a1 += v * wa, b1 += v * wb;                       \
        v = xs[4 * (e) + 2], a2 += v * wa, b2 += v * wb;                       \
        v = xs[4 * (e) + 3], a3 += v * wa, b3 += v * wb;                       \
    } while (0)
            KWS_MAC_4X2(0, 0, 2);
            KWS_MAC_4X2(1, 1, 3);
            KWS_MAC_4X2(2, 4, 6);
            KWS_MAC_4X2(3, 5, 7);
#undef KWS_MAC_4X2
        }
        w += 4 + 4 * steps;
        const int32_t ma = w[0], adda = w[1], sa = w[2], mb = w[3], addb = w[4], sb = w[5];
        /* Pixels in reverse: a repeated last pixel gets the same value anyway. */
        o3[c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a3, ma, adda) >> sa);
        o3[c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b3, mb, addb) >> sb);
        o2[c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a2, ma, adda) >> sa);
        o2[c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b2, mb, addb) >> sb);
        o1[c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a1, ma, adda) >> sa);
        o1[c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b1, mb, addb) >> sb);
        o0[c] = (int8_t)kws_ssat8_c(kws_smmlar_c(a0, ma, adda) >> sa);
        o0[c + 1] = (int8_t)kws_ssat8_c(kws_smmlar_c(b0, mb, addb) >> sb);
        const int last = w[6] != 0;
        w += 7;
        if (last) break;
    }
}

/* One pixel's in_c int8 inputs into slot pix of packed_run4's layout. */
static void widen4(const int8_t *in, int in_c, int16_t *x16, int pix) {
    int16_t *d = x16 + pix;
    for (int c = 0; c < in_c; c += 4, in += 4, d += 16) {
        d[0] = in[0];
        d[4] = in[2];
        d[8] = in[1];
        d[12] = in[3];
    }
}
#endif

static void pointwise_packed(const kws_nn_pointwise_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int in_c = p->in_c, out_c = p->out_c, n = p->n_pix;
#if !KWS_NN_DSP
    /* Four pixels at a time: the layer's scratch holds 4 * in_c int16 (kws_nn.h). */
    for (int i = 0; i < n; i += PIX) {
        int8_t *o[PIX];
        for (int j = 0; j < PIX; j++) {
            const int pix = i + j < n ? i + j : n - 1; /* a short last group repeats its last pixel */
            widen4(in + (size_t)pix * in_c, in_c, scratch, j);
            o[j] = out + (size_t)pix * out_c;
        }
        packed_run4(p->packed, in_c / 4, scratch, o);
    }
    return;
#endif
    uint32_t *x = (uint32_t *)(void *)scratch;
    int done = 0; /* pixels the 2 x 4 block has written */
#if KWS_PACKED_ASM
    /* Four pixels at a time (scratch: 4 * in_c int16); a short last group of 3 repeats its last
     * pixel, one of 1 or 2 pixels takes the 2 x 2 block below (fewer wasted MACs: streaming chunks). */
    {
        const int steps = in_c / 4;
        for (; n - done >= 3; done += PIX) {
            const int i = done;
            const int j1 = i + 1 < n ? 1 : n - 1 - i, j2 = i + 2 < n ? 2 : n - 1 - i, j3 = i + 3 < n ? 3 : n - 1 - i;
            widen4_asm(in + (size_t)i * in_c, j1 * in_c, j2 * in_c, j3 * in_c, in_c, x);
            const kws_packed4_ctx_t ctx = {x, (steps - 1) % 16 + 1, out + (size_t)i * out_c, j1 * out_c, j2 * out_c,
                                           j3 * out_c, p->packed, x + 8 * steps, steps > 16};
            packed_blocks4(&ctx);
        }
    }
#endif
    for (int i = done; i < n; i += 2) {
        const int j = i + 1 < n ? i + 1 : i; /* an odd last pixel pairs with itself */
        widen_pair(in + (size_t)i * in_c, in + (size_t)j * in_c, in_c, x);
        packed_run(p->packed, in_c / 4, x, out + (size_t)i * out_c, (j - i) * out_c, &p->q);
    }
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
    if (p->packed != NULL) {
        pointwise_packed(p, in, out, scratch);
        return;
    }
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

/* im2col of output pixel (oy, ox) into slot pix (0, 1) of the packed inputs: element e of the
 * patch goes to int16 (e / 4 * 4 + e / 2 % 2 * 2 + pix) * 2 + e % 2. */
static void im2col_pair(const kws_nn_conv_t *p, const int8_t *in, int oy, int ox, int16_t *x16, int pix) {
    const int iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int in_c = p->in_c;
    const int16_t off = (int16_t)p->in_offset;
    int16_t *d = x16 + pix * 2;
    int e = 0;
    for (int ky = 0; ky < p->k_h; ky++) {
        const int iy = iy0 + ky;
        for (int kx = 0; kx < p->k_w; kx++) {
            const int ix = ix0 + kx;
            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int8_t *src = inside ? in + ((size_t)iy * p->in_w + (size_t)ix) * in_c : in;
            for (int c = 0; c < in_c; c++, e++) d[(e >> 2) * 8 + ((e >> 1) & 1) * 4 + (e & 1)] = inside ? (int16_t)(src[c] + off) : 0;
        }
    }
    for (; e < p->k_padded; e++) d[(e >> 2) * 8 + ((e >> 1) & 1) * 4 + (e & 1)] = 0;
}

/*
 * A single input channel with k_w a multiple of 4 and an even column stride (the first layer of a
 * KWS network): the whole input, offset added, goes once into a zero-padded int16 copy with an
 * even row length, so every patch row is k_w / 2 aligned words and the im2col of a pixel is plain
 * word copies, with no bounds tests. plan_native in tinykws/export/native.py sizes the scratch for it.
 */
static int conv_single_channel(const kws_nn_conv_t *p) {
    return p->in_c == 1 && p->k_w % 4 == 0 && (p->stride_w % 2 == 0 || p->out_w == 1);
}

static void conv_packed(const kws_nn_conv_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    const int n = p->out_h * p->out_w, out_c = p->out_c, steps = p->k_padded / 4;
    uint32_t *x = (uint32_t *)(void *)scratch;
    if (conv_single_channel(p)) {
        const int hp = (p->out_h - 1) * p->stride_h + p->k_h;
        const int wp = ((p->out_w - 1) * p->stride_w + p->k_w + 1) & ~1;
        int16_t *pad = scratch + PIX * p->k_padded; /* after 4 pixels' inputs (native.py sizes it) */
        memset(pad, 0, (size_t)hp * wp * sizeof(int16_t));
        const int rows = p->in_h < hp - p->pad_top ? p->in_h : hp - p->pad_top;
        const int cols = p->in_w < wp - p->pad_left ? p->in_w : wp - p->pad_left;
        const int16_t off = (int16_t)p->in_offset;
        for (int iy = 0; iy < rows; iy++) {
            int16_t *d = pad + (size_t)(iy + p->pad_top) * wp + p->pad_left;
            const int8_t *src = in + (size_t)iy * p->in_w;
            for (int ix = 0; ix < cols; ix++) d[ix] = (int16_t)(src[ix] + off);
        }
        const int row_words = wp / 2, kw_words = p->k_w / 2;
#if KWS_PACKED_ASM
        /* Four pixels at a time through the 2 x 4 block (a short last group of 3 repeats its last
         * pixel; the last 1 or 2 take the 2 x 2 block below). */
        int done = 0;
        for (; n - done >= 3; done += PIX) {
            const int i = done;
            const uint32_t *s[PIX];
            int off[PIX];
            for (int j = 0; j < PIX; j++) {
                const int q = i + j < n ? i + j : n - 1;
                off[j] = (q - i) * out_c;
                s[j] = (const uint32_t *)(const void *)(pad + (size_t)(q / p->out_w) * p->stride_h * wp +
                                                        (size_t)(q % p->out_w) * p->stride_w);
            }
            const uint32_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
            uint32_t *d = x;
            for (int ky = 0; ky < p->k_h; ky++, s0 += row_words, s1 += row_words, s2 += row_words, s3 += row_words) {
                for (int k = 0; k < kw_words; k += 2, d += 8) {
                    d[0] = s0[k], d[1] = s1[k], d[2] = s2[k], d[3] = s3[k];
                    d[4] = s0[k + 1], d[5] = s1[k + 1], d[6] = s2[k + 1], d[7] = s3[k + 1];
                }
            }
            const kws_packed4_ctx_t ctx = {x, (steps - 1) % 16 + 1, out + (size_t)i * out_c, off[1], off[2], off[3],
                                           p->packed, x + 8 * steps, steps > 16};
            packed_blocks4(&ctx);
        }
#elif !KWS_NN_DSP
        /* The portable path (the ESP32): four pixels at a time through packed_run4, the 2 x 4 block
         * of the 1x1 layers (each weight loaded once for four MACs, against two in packed_run), a
         * short last group repeating its last pixel. Element e of step st of a pixel is int16
         * 4 st' + e of its patch row, st' counting the steps within the row. */
        int done = 0;
        int16_t *x16 = scratch;
        for (; done < n; done += PIX) {
            const int i = done;
            int8_t *o[PIX];
            for (int j = 0; j < PIX; j++) {
                const int q = i + j < n ? i + j : n - 1;
                o[j] = out + (size_t)q * out_c;
                const int16_t *src = pad + (size_t)(q / p->out_w) * p->stride_h * wp + (size_t)(q % p->out_w) * p->stride_w;
                int16_t *d = x16 + j;
                for (int ky = 0; ky < p->k_h; ky++, src += wp) {
                    for (int k = 0; k < p->k_w; k += 4, d += 16) {
                        d[0] = src[k], d[4] = src[k + 1], d[8] = src[k + 2], d[12] = src[k + 3];
                    }
                }
            }
            packed_run4(p->packed, steps, x16, o);
        }
#else
        const int done = 0;
#endif
        for (int i = done; i < n; i += 2) {
            const int j = i + 1 < n ? i + 1 : i;
            const uint32_t *s0 = (const uint32_t *)(const void *)(pad + (size_t)(i / p->out_w) * p->stride_h * wp +
                                                                  (size_t)(i % p->out_w) * p->stride_w);
            const uint32_t *s1 = (const uint32_t *)(const void *)(pad + (size_t)(j / p->out_w) * p->stride_h * wp +
                                                                  (size_t)(j % p->out_w) * p->stride_w);
            uint32_t *d = x;
            for (int ky = 0; ky < p->k_h; ky++, s0 += row_words, s1 += row_words) {
                for (int k = 0; k < kw_words; k += 2, d += 4) {
                    const uint32_t a0 = s0[k], a1 = s0[k + 1], b0 = s1[k], b1 = s1[k + 1];
                    d[0] = a0, d[1] = b0, d[2] = a1, d[3] = b1;
                }
            }
            packed_run(p->packed, steps, x, out + (size_t)i * out_c, (j - i) * out_c, &p->q);
        }
        return;
    }
    for (int i = 0; i < n; i += 2) {
        const int j = i + 1 < n ? i + 1 : i;
        im2col_pair(p, in, i / p->out_w, i % p->out_w, scratch, 0);
        im2col_pair(p, in, j / p->out_w, j % p->out_w, scratch, 1);
        packed_run(p->packed, steps, x, out + (size_t)i * out_c, (j - i) * out_c, &p->q);
    }
}

void kws_nn_conv2d(const kws_nn_conv_t *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    if (p->packed != NULL) {
        conv_packed(p, in, out, scratch);
        return;
    }
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
