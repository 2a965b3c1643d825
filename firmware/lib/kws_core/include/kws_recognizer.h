/*
 * kws_recognizer.h - from a stream of model scores to detections, once and only once.
 *
 * Contract: call kws_recognizer_push after every inference with the dequantized
 * scores (0..1, one per label) and the audio time in ms (non-decreasing). The
 * scores of the inferences in the last average_window_ms are averaged; when the
 * best-averaged label is a keyword (not the silence / unknown index), at least
 * min_count inferences are in the window, its average reaches threshold, and
 * suppression_ms have passed since the previous detection, the push reports a
 * detection. Fixed-size history, no allocation. Settings come from the exported
 * model header (KWS_RECOGNIZER_*), never from constants here.
 */
#ifndef KWS_RECOGNIZER_H
#define KWS_RECOGNIZER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_RECOGNIZER_MAX_LABELS 32
#define KWS_RECOGNIZER_MAX_HISTORY 64

typedef struct {
    int n_labels;
    int silence_index;   /* -1 if none */
    int unknown_index;   /* -1 if none */
    uint32_t average_window_ms;
    float threshold;
    uint32_t suppression_ms;
    int min_count;
} kws_recognizer_config_t;

typedef struct {
    kws_recognizer_config_t cfg;
    float scores[KWS_RECOGNIZER_MAX_HISTORY][KWS_RECOGNIZER_MAX_LABELS];
    uint32_t times[KWS_RECOGNIZER_MAX_HISTORY];
    int head;    /* index of the oldest entry */
    int count;
    int have_detection;
    uint32_t last_detection_ms;
} kws_recognizer_t;

typedef struct {
    int label;
    float score;      /* the averaged score */
    uint32_t time_ms;
} kws_detection_t;

/* Returns 0, or -1 if the config is out of range (too many labels, threshold outside (0, 1]). */
int kws_recognizer_init(kws_recognizer_t *r, const kws_recognizer_config_t *cfg);
void kws_recognizer_reset(kws_recognizer_t *r);
void kws_recognizer_set_threshold(kws_recognizer_t *r, float threshold);
/* Returns 1 and fills *det on a detection, else 0. */
int kws_recognizer_push(kws_recognizer_t *r, const float *scores, uint32_t time_ms, kws_detection_t *det);

#ifdef __cplusplus
}
#endif
#endif
