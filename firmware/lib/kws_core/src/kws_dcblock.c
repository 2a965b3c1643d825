/* DC removal (one-pole high-pass, fixed point): see kws_dcblock.h. */
#include "kws_dcblock.h"

void kws_dc_block_reset(kws_dc_block_t *f) {
    f->x_prev = 0;
    f->y_q12 = 0;
}

void kws_dc_block_run(kws_dc_block_t *f, int16_t *samples, size_t n) {
    int32_t x_prev = f->x_prev, y = f->y_q12;
    for (size_t i = 0; i < n; i++) {
        int32_t x = samples[i];
        /* a * y, rounded to nearest: a 32x32->64 multiply (one instruction on a Cortex-M4), since
         * |y| <= 2^28 leaves no room in 32 bits. Shifts, not divisions: a 64-bit division is a
         * library call on these CPUs. Right-shifting a negative value is implementation-defined in
         * C99; GCC and clang (every compiler this core is built with) shift arithmetically. */
        int64_t p = (int64_t)KWS_DC_BLOCK_POLE_Q15 * y;
        y = (int32_t)((p + 16384) >> 15) + (x - x_prev) * 4096;
        x_prev = x;
        /* Round the Q12 output to the nearest integer sample, then saturate. A constant input leaves
         * |y| below 64 (0.016 of a sample, where rounding a * y gives y back): the output is exactly 0. */
        int32_t out = (y + 2048) >> 12;
        samples[i] = (int16_t)(out > 32767 ? 32767 : (out < -32768 ? -32768 : out));
    }
    f->x_prev = x_prev;
    f->y_q12 = y;
}
