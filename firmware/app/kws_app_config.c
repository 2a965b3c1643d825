/* The application's configuration from the model folder and the engine: see kws_app_config.h. */
#include "kws_app_config.h"

#include <string.h>

#include "kws_engine.h"
#include "kws_feature_spec.h"
#include "kws_model.h"

#ifndef KWS_FW_VERSION
#define KWS_FW_VERSION "dev"
#endif

bool kws_model_matches_spec(void) { return strcmp(KWS_MODEL_SPEC_HASH, KWS_SPEC_HASH) == 0; }

void kws_app_config_from_model(kws_app_config_t *cfg, const char *board, const char *mic, bool engine_ok,
                               const char *status) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->identity.board = board;
    cfg->identity.fw = KWS_FW_VERSION;
    /* Both engines report the sha256 of the .tflite the model came from; the native engine also the
     * CRC-32 of the weights it recomputed from flash at boot (the host checks it against the export). */
    cfg->identity.model_hash = KWS_MODEL_HASH;
    cfg->identity.spec_hash = KWS_SPEC_HASH;
    cfg->identity.labels_csv = KWS_MODEL_LABELS_CSV;
    cfg->identity.arena_used = (uint32_t)kws_engine_ram_used();
    cfg->identity.arena_size = engine_ok ? (uint32_t)kws_engine_ram_reserved() : 0u; /* protocol: 0/0 on failure */
    cfg->identity.mic = mic;
    cfg->identity.sample_rate = KWS_SAMPLE_RATE;
    cfg->identity.status = status;
    cfg->identity.engine = kws_engine_name();
    cfg->identity.weights_crc = kws_engine_weights_crc32();
    cfg->labels = kws_model_labels;
    cfg->n_labels = KWS_MODEL_NUM_LABELS;
    cfg->input_scale = KWS_MODEL_INPUT_SCALE;
    cfg->input_zero_point = KWS_MODEL_INPUT_ZERO_POINT;
    cfg->output_scale = KWS_MODEL_OUTPUT_SCALE;
    cfg->output_zero_point = KWS_MODEL_OUTPUT_ZERO_POINT;
    cfg->stride_ms = KWS_RECOGNIZER_STRIDE_MS;
    cfg->recognizer.n_labels = KWS_MODEL_NUM_LABELS;
    cfg->recognizer.silence_index = KWS_MODEL_SILENCE_INDEX;
    cfg->recognizer.unknown_index = KWS_MODEL_UNKNOWN_INDEX;
    cfg->recognizer.average_window_ms = KWS_RECOGNIZER_AVERAGE_WINDOW_MS;
    cfg->recognizer.threshold = KWS_RECOGNIZER_THRESHOLD;
    cfg->recognizer.suppression_ms = KWS_RECOGNIZER_SUPPRESSION_MS;
    cfg->recognizer.min_count = KWS_RECOGNIZER_MIN_COUNT;
    cfg->stats_period_ms = 5000;
}
