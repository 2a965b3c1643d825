/* Feature window and int8 quantization: see kws_window.h. */
#include "kws_window.h"

#include <math.h>
#include <string.h>

void kws_window_reset(kws_window_t *w) { memset(w, 0, sizeof(*w)); }

void kws_window_push(kws_window_t *w, const float *frame) {
    memcpy(w->frames[w->next], frame, sizeof(float) * KWS_N_MFCC);
    w->next = (w->next + 1) % KWS_N_FRAMES;
    if (w->count < KWS_N_FRAMES) w->count++;
}

int kws_window_full(const kws_window_t *w) { return w->count == KWS_N_FRAMES; }

int8_t kws_quantize_value(float x, float scale, int zero_point) {
    /* Division (not a multiply by 1/scale) so the float32 result equals numpy's x / scale. */
    float q = rintf(x / scale) + (float)zero_point;
    if (q < -128.0f) q = -128.0f;
    if (q > 127.0f) q = 127.0f;
    return (int8_t)q;
}

void kws_window_quantize(const kws_window_t *w, float scale, int zero_point, int8_t *out) {
    int start = (w->count == KWS_N_FRAMES) ? w->next : 0;
    for (int f = 0; f < w->count; f++) {
        const float *src = w->frames[(start + f) % KWS_N_FRAMES];
        for (int c = 0; c < KWS_N_MFCC; c++) out[f * KWS_N_MFCC + c] = kws_quantize_value(src[c], scale, zero_point);
    }
}
