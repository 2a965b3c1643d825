/*
 * kws_window.h - the last KWS_N_FRAMES MFCC frames, quantized to the model's int8 input.
 *
 * Contract: push frames as they come; once KWS_N_FRAMES have been pushed the
 * window is full and kws_window_quantize writes the model input, oldest frame
 * first, as q = clamp(rint(x / scale) + zero_point, -128, 127) with rintf under
 * the default round-to-nearest-even mode: the same rounding as numpy.rint on
 * the host (tinykws.model.quantize.quantize_input).
 */
#ifndef KWS_WINDOW_H
#define KWS_WINDOW_H

#include <stdint.h>

#include "kws_feature_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float frames[KWS_N_FRAMES][KWS_N_MFCC];
    int next;   /* slot the next frame goes to */
    int count;  /* frames held, up to KWS_N_FRAMES */
} kws_window_t;

void kws_window_reset(kws_window_t *w);
void kws_window_push(kws_window_t *w, const float *frame);
int kws_window_full(const kws_window_t *w);
/* Writes KWS_N_FRAMES * KWS_N_MFCC int8 values. */
void kws_window_quantize(const kws_window_t *w, float scale, int zero_point, int8_t *out);
/* Quantize one value (exposed for tests). */
int8_t kws_quantize_value(float x, float scale, int zero_point);

#ifdef __cplusplus
}
#endif
#endif
