// tinykws firmware entry point: wiring only. The board port (board_<name>.cpp) supplies
// audio, clock, serial and the LED; tflm_engine.cpp runs the model; everything else
// (features, recognizer, protocol) is the portable core in lib/kws_core.
#include <Arduino.h>
#include <string.h>

#include "kws_app.h"
#include "kws_board.h"
#include "kws_model.h"
#include "tflm_engine.h"

namespace {
kws_app_t app;
char command[64];

size_t read_audio(void *, int16_t *buf, size_t max) { return kws_board_read_audio(buf, max); }
uint32_t micros_cb(void *) { return kws_board_micros(); }
void write_line(void *, const char *line, size_t len) { kws_board_write_line(line, len); }
int invoke(void *, const int8_t *in, int8_t *out) { return kws_engine_invoke(in, out); }
void on_detection(void *, int label, float score) { kws_board_on_detection(label, score); }
}  // namespace

void setup() {
    const char *board_error = nullptr;
    bool mic_ok = kws_board_begin(&board_error);
    const char *engine_error = nullptr;
    const char *engine_detail = "";
    bool engine_ok = kws_engine_begin(&engine_error, &engine_detail);

    kws_app_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.identity.board = KWS_BOARD_NAME;
    cfg.identity.fw = KWS_FW_VERSION;
    cfg.identity.model_hash = KWS_MODEL_HASH;
    cfg.identity.spec_hash = KWS_SPEC_HASH;
    cfg.identity.labels_csv = KWS_MODEL_LABELS_CSV;
    cfg.identity.arena_used = (uint32_t)kws_engine_arena_used();
    cfg.identity.arena_size = engine_ok ? KWS_MODEL_ARENA_BYTES : 0;  // protocol: 0/0 when allocation failed
    cfg.identity.mic = kws_board_mic_name();
    cfg.identity.sample_rate = KWS_SAMPLE_RATE;
    // A model exported for another feature spec would silently compute wrong features: refuse it.
    bool spec_ok = strcmp(KWS_MODEL_SPEC_HASH, KWS_SPEC_HASH) == 0;
    cfg.identity.status = !engine_ok ? engine_error : (!mic_ok ? board_error : (!spec_ok ? "bad_arg" : "ok"));
    cfg.labels = kws_model_labels;
    cfg.n_labels = KWS_MODEL_NUM_LABELS;
    cfg.input_scale = KWS_MODEL_INPUT_SCALE;
    cfg.input_zero_point = KWS_MODEL_INPUT_ZERO_POINT;
    cfg.output_scale = KWS_MODEL_OUTPUT_SCALE;
    cfg.output_zero_point = KWS_MODEL_OUTPUT_ZERO_POINT;
    cfg.stride_ms = KWS_RECOGNIZER_STRIDE_MS;
    cfg.recognizer.n_labels = KWS_MODEL_NUM_LABELS;
    cfg.recognizer.silence_index = KWS_MODEL_SILENCE_INDEX;
    cfg.recognizer.unknown_index = KWS_MODEL_UNKNOWN_INDEX;
    cfg.recognizer.average_window_ms = KWS_RECOGNIZER_AVERAGE_WINDOW_MS;
    cfg.recognizer.threshold = KWS_RECOGNIZER_THRESHOLD;
    cfg.recognizer.suppression_ms = KWS_RECOGNIZER_SUPPRESSION_MS;
    cfg.recognizer.min_count = KWS_RECOGNIZER_MIN_COUNT;
    cfg.stats_period_ms = 5000;

    static const kws_platform_t io = {read_audio, micros_cb, write_line, invoke, on_detection, nullptr};
    kws_app_init(&app, &cfg, &io);  // writes the BOOT line, with the status
    // Faults are reported, never a silent hang: the loop keeps answering commands and STAT.
    if (!engine_ok) kws_app_fail(&app, engine_error, engine_detail);
    else if (!spec_ok) kws_app_fail(&app, "bad_arg", "model exported for another feature spec: re-export");
    if (!mic_ok) kws_app_fail(&app, board_error, "microphone did not start");
}

void loop() {
    uint32_t dropped = kws_board_take_dropped();
    if (dropped) kws_app_add_dropped(&app, dropped);
    for (uint32_t n = kws_board_take_overflows(); n; n--) kws_app_add_overflow(&app);
    kws_app_step(&app);
    if (kws_board_read_command(command, sizeof(command))) kws_app_command(&app, command);
    kws_board_poll();
}
