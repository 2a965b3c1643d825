/*
 * kws_dcblock.h - DC removal for microphone samples: a fixed-point one-pole high-pass.
 *
 * Contract: a port runs every sample through kws_dc_block_run once, in its own
 * audio path, BEFORE the samples reach the ring buffer, so that recorded audio
 * (`tinykws record`, AUD lines) and the features the board computes see the
 * same DC-free signal: the clips a model is trained on and the audio it hears
 * on the board then went through the same filter.
 *
 *   y[n] = x[n] - x[n-1] + a * y[n-1],   a = 32510 / 32768 = 0.99213
 *
 * The -3 dB corner is (1 - a) * fs / (2 pi) = 20.0 Hz at 16 kHz: below the
 * lowest mel band, so speech is untouched (a 1 kHz tone gains +0.03 dB), while
 * a microphone's offset and slow drift go. Integer only (no FPU needed, the
 * same bits on every CPU); the state keeps 12 fractional bits so a constant
 * input decays to exactly 0. Output saturates to int16 (a full-scale step
 * overshoots by up to 2x). Cheap enough for an interrupt handler: one 32x32
 * multiply per sample. One state per audio stream; zero it (or call
 * kws_dc_block_reset) to start.
 */
#ifndef KWS_DCBLOCK_H
#define KWS_DCBLOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_DC_BLOCK_POLE_Q15 32510 /* a in Q15: corner (1 - a) fs / 2pi = 20.0 Hz at fs = 16 kHz */

typedef struct {
    int32_t x_prev; /* previous input sample */
    int32_t y_q12;  /* previous output, 12 fractional bits (|y| <= 2^16, so |y_q12| <= 2^28) */
} kws_dc_block_t;

void kws_dc_block_reset(kws_dc_block_t *f);
/* Filter n samples in place. */
void kws_dc_block_run(kws_dc_block_t *f, int16_t *samples, size_t n);

#ifdef __cplusplus
}
#endif
#endif
