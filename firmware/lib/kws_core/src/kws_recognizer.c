/* Posterior smoothing, threshold and suppression: see kws_recognizer.h. */
#include "kws_recognizer.h"

#include <string.h>

int kws_recognizer_init(kws_recognizer_t *r, const kws_recognizer_config_t *cfg) {
    memset(r, 0, sizeof(*r));
    if (cfg->n_labels < 1 || cfg->n_labels > KWS_RECOGNIZER_MAX_LABELS) return -1;
    if (!(cfg->threshold > 0.0f && cfg->threshold <= 1.0f) || cfg->min_count < 1) return -1;
    r->cfg = *cfg;
    return 0;
}

void kws_recognizer_reset(kws_recognizer_t *r) {
    r->head = 0;
    r->count = 0;
    r->have_detection = 0;
    r->last_detection_ms = 0;
}

void kws_recognizer_set_threshold(kws_recognizer_t *r, float threshold) { r->cfg.threshold = threshold; }

int kws_recognizer_push(kws_recognizer_t *r, const float *scores, uint32_t time_ms, kws_detection_t *det) {
    const int n = r->cfg.n_labels;
    /* Append, overwriting the oldest entry when the history is full. */
    int slot = (r->head + r->count) % KWS_RECOGNIZER_MAX_HISTORY;
    if (r->count == KWS_RECOGNIZER_MAX_HISTORY) {
        r->head = (r->head + 1) % KWS_RECOGNIZER_MAX_HISTORY;
    } else {
        r->count++;
    }
    memcpy(r->scores[slot], scores, sizeof(float) * (size_t)n);
    r->times[slot] = time_ms;
    /* Drop entries that fell out of the averaging window. */
    while (r->count > 0 && time_ms - r->times[r->head] >= r->cfg.average_window_ms && r->count > 1) {
        r->head = (r->head + 1) % KWS_RECOGNIZER_MAX_HISTORY;
        r->count--;
    }
    if (r->count < r->cfg.min_count) return 0;
    float avg[KWS_RECOGNIZER_MAX_LABELS] = {0};
    for (int i = 0; i < r->count; i++) {
        const float *s = r->scores[(r->head + i) % KWS_RECOGNIZER_MAX_HISTORY];
        for (int l = 0; l < n; l++) avg[l] += s[l];
    }
    int best = 0;
    for (int l = 0; l < n; l++) {
        avg[l] /= (float)r->count;
        if (avg[l] > avg[best]) best = l;
    }
    if (best == r->cfg.silence_index || best == r->cfg.unknown_index) return 0;
    if (avg[best] < r->cfg.threshold) return 0;
    if (r->have_detection && time_ms - r->last_detection_ms < r->cfg.suppression_ms) return 0;
    r->have_detection = 1;
    r->last_detection_ms = time_ms;
    if (det) {
        det->label = best;
        det->score = avg[best];
        det->time_ms = time_ms;
    }
    return 1;
}
