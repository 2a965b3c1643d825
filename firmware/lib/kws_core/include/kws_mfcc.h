/*
 * kws_mfcc.h - streaming MFCC front end.
 *
 * Contract: push int16 PCM in chunks of any size; every KWS_HOP_LENGTH samples
 * (once the first KWS_N_FFT have arrived) one frame of KWS_N_MFCC coefficients
 * comes out, equal (float32 rounding aside) to tinykws.features.compute_mfcc on
 * the same audio: frame i covers samples [i*hop, i*hop + n_fft), no centre
 * padding, int16 scaled by 1/32768. All parameters and tables come from the
 * generated kws_feature_spec.h. No allocation; the state is the caller's.
 */
#ifndef KWS_MFCC_H
#define KWS_MFCC_H

#include <stddef.h>
#include <stdint.h>

#include "kws_feature_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float frame[KWS_N_FFT];          /* the last n_fft samples, oldest first */
    int filled;                      /* samples in frame[] (up to KWS_N_FFT) */
    float tw_re[KWS_N_FFT / 2];      /* twiddles for the n_fft/2 complex FFT and the real split */
    float tw_im[KWS_N_FFT / 2];
    uint16_t bitrev[KWS_N_FFT / 2];
    float work_re[KWS_N_FFT / 2];
    float work_im[KWS_N_FFT / 2];
    float power[KWS_N_BINS];
} kws_mfcc_t;

/* Prepare the state (twiddles, bit reversal); forget any buffered audio. */
void kws_mfcc_init(kws_mfcc_t *m);

/* Forget buffered audio, keep the tables. */
void kws_mfcc_reset(kws_mfcc_t *m);

/*
 * Push n samples. Writes up to max_frames frames (KWS_N_MFCC floats each) into
 * out and returns how many. If a chunk would produce more frames than
 * max_frames, the audio after the last written frame is still consumed and the
 * extra frames are lost: give room for n / KWS_HOP_LENGTH + 1 frames.
 */
int kws_mfcc_push(kws_mfcc_t *m, const int16_t *pcm, size_t n, float *out, int max_frames);

/* MFCC of one full frame of KWS_N_FFT float samples (already scaled to [-1, 1)). */
void kws_mfcc_compute_frame(kws_mfcc_t *m, const float *frame, float *mfcc_out);

#ifdef __cplusplus
}
#endif
#endif
