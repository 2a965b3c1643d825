/* The application loop: see kws_app.h. */
#include "kws_app.h"

#include <string.h>

static void emit(kws_app_t *app, size_t len) {
    if (len && app->io.write_line) app->io.write_line(app->io.ctx, app->line, len);
}

static uint32_t samples_to_ms(uint64_t samples) { return (uint32_t)(samples * 1000u / KWS_SAMPLE_RATE); }

uint32_t kws_app_time_ms(const kws_app_t *app) { return samples_to_ms(app->samples); }

static void send_identity(kws_app_t *app, const char *tag) {
    size_t n = kws_encode_boot(app->line, sizeof(app->line), tag, &app->cfg.identity);
    /* The encoder shortens the labels to fit; only absurd other fields leave it nothing to send. */
    if (n == 0) n = kws_encode_error(app->line, sizeof(app->line), "bad_arg", "identity does not fit in one line");
    emit(app, n);
}

void kws_app_fail(kws_app_t *app, const char *code, const char *msg) {
    app->ready = 0;
    app->errors++;
    app->cfg.identity.status = code;
    emit(app, kws_encode_error(app->line, sizeof(app->line), code, msg));
}

int kws_app_init(kws_app_t *app, const kws_app_config_t *cfg, const kws_platform_t *io) {
    memset(app, 0, sizeof(*app));
    app->cfg = *cfg;
    app->io = *io;
    kws_mfcc_init(&app->mfcc);
    kws_window_reset(&app->window);
    app->mode = KWS_MODE_INFER;
    app->ready = 1;
    if (!app->cfg.stats_period_ms) app->cfg.stats_period_ms = 5000;
    if (!app->cfg.identity.status) app->cfg.identity.status = "ok";
    int bad = cfg->n_labels < 1 || cfg->n_labels > KWS_RECOGNIZER_MAX_LABELS || cfg->stride_ms == 0 ||
              cfg->stride_ms % KWS_HOP_MS != 0 || !(cfg->input_scale > 0.0f);
    if (!bad) bad = kws_recognizer_init(&app->recognizer, &cfg->recognizer) != 0;
    if (bad) {
        app->cfg.identity.status = "bad_arg";
        send_identity(app, "BOOT");
        kws_app_fail(app, "bad_arg", "model or recognizer settings out of range");
        return -1;
    }
    app->last_stats_us = app->io.micros(app->io.ctx);
    send_identity(app, "BOOT");
    return 0;
}

static void restart_features(kws_app_t *app) {
    kws_mfcc_reset(&app->mfcc);
    kws_window_reset(&app->window);
    kws_recognizer_reset(&app->recognizer);
    app->frames_since_inference = 0;
    app->pending = 0;
    app->feat_us = 0;
}

void kws_app_add_dropped(kws_app_t *app, uint32_t samples) {
    if (!samples) return;
    app->dropped += samples;
    app->samples += samples;
    /* Audio is missing here: no frame may join the two sides. The window restarts too (its frames
     * would not be contiguous); the recognizer keeps its history, whose times stay right because
     * the audio clock counts the lost samples. */
    kws_mfcc_reset(&app->mfcc);
    kws_window_reset(&app->window);
    app->frames_since_inference = 0;
    app->pending = 0;
    if (app->mode == KWS_MODE_REC) {
        /* Skip sequence numbers for the partial chunk and the lost audio: the host sees the gap. */
        uint64_t lost = (uint64_t)app->rec_fill + samples;
        app->rec_seq += (uint32_t)((lost + KWS_AUDIO_CHUNK - 1u) / KWS_AUDIO_CHUNK);
        app->rec_fill = 0;
    }
}

void kws_app_add_tx_dropped(kws_app_t *app, uint32_t lines) { app->tx_dropped += lines; }

void kws_app_add_overflow(kws_app_t *app) {
    app->overflows++;
    /* Say so at the 1st, 2nd, 4th, 8th... overflow: visible, but never a flood. */
    if ((app->overflows & (app->overflows - 1u)) == 0u)
        emit(app, kws_encode_error(app->line, sizeof(app->line), "mic_overflow", "microphone buffer overflowed: audio lost"));
}

static void run_inference(kws_app_t *app) {
    uint32_t t0 = app->io.micros(app->io.ctx);
    kws_window_quantize(&app->window, app->cfg.input_scale, app->cfg.input_zero_point, app->input);
    uint32_t t1 = app->io.micros(app->io.ctx);
    int rc = app->io.invoke(app->io.ctx, app->input, app->output);
    uint32_t t2 = app->io.micros(app->io.ctx);
    if (rc != 0) {
        app->errors++;
        app->invoke_failures++;
        /* An engine that fails once usually fails at every window: say so at the 1st, 2nd, 4th, 8th...
         * failure, as for overflows, so ten a second never flood the serial line. */
        if ((app->invoke_failures & (app->invoke_failures - 1u)) == 0u)
            emit(app, kws_encode_error(app->line, sizeof(app->line), "invoke", "Invoke() failed"));
        return;
    }
    int top = 0;
    for (int l = 0; l < app->cfg.n_labels; l++) {
        app->scores[l] = (float)((int)app->output[l] - app->cfg.output_zero_point) * app->cfg.output_scale;
        if (app->scores[l] > app->scores[top]) top = l;
    }
    app->inferences++;
    uint32_t t_ms = samples_to_ms(app->window_samples);
    kws_detection_t det;
    int hit = kws_recognizer_push(&app->recognizer, app->scores, t_ms, &det);
    uint32_t t3 = app->io.micros(app->io.ctx);
    emit(app, kws_encode_inference(app->line, sizeof(app->line), t_ms, app->feat_us + (t1 - t0), t2 - t1,
                                   app->feat_us + (t3 - t0), app->cfg.labels[top], app->scores[top]));
    app->feat_us = 0;
    if (hit) {
        app->detections++;
        emit(app, kws_encode_detection(app->line, sizeof(app->line), t_ms, app->cfg.labels[det.label], det.score));
        if (app->io.on_detection) app->io.on_detection(app->io.ctx, det.label, det.score);
    }
}

static void maybe_stats(kws_app_t *app) {
    uint32_t now = kws_app_time_ms(app);
    if (now - app->last_stats_ms < app->cfg.stats_period_ms) return;
    uint32_t period = now - app->last_stats_ms;
    float rate = period ? (float)(app->inferences - app->inferences_at_last_stats) * 1000.0f / (float)period : 0.0f;
    emit(app, kws_encode_stats(app->line, sizeof(app->line), now, app->inferences, rate, app->detections, app->dropped,
                               app->overflows, app->mode, app->skipped, app->tx_dropped));
    app->last_stats_ms = now;
    app->inferences_at_last_stats = app->inferences;
    app->last_stats_us = app->io.micros(app->io.ctx);
}

/* No audio for a whole stats period of real time (e.g. the microphone died): say so anyway. */
static void stats_without_audio(kws_app_t *app) {
    uint32_t now_us = app->io.micros(app->io.ctx);
    if (now_us - app->last_stats_us < app->cfg.stats_period_ms * 1000u) return;
    emit(app, kws_encode_stats(app->line, sizeof(app->line), kws_app_time_ms(app), app->inferences, 0.0f,
                               app->detections, app->dropped, app->overflows, app->mode, app->skipped, app->tx_dropped));
    app->last_stats_us = now_us;
    app->inferences_at_last_stats = app->inferences;
}

static void process_chunk(kws_app_t *app, const int16_t *pcm, size_t n) {
    if (app->mode == KWS_MODE_REC) {
        for (size_t i = 0; i < n; i++) {
            app->rec_buf[app->rec_fill++] = pcm[i];
            if (app->rec_fill == KWS_AUDIO_CHUNK) {
                emit(app, kws_encode_audio(app->line, sizeof(app->line), app->rec_seq++, app->rec_buf, KWS_AUDIO_CHUNK));
                app->rec_fill = 0;
            }
        }
        return;
    }
    if (app->mode != KWS_MODE_INFER || !app->ready) return;
    uint32_t t0 = app->io.micros(app->io.ctx);
    int k = kws_mfcc_push(&app->mfcc, pcm, n, app->frames, 2);
    app->feat_us += app->io.micros(app->io.ctx) - t0;
    for (int f = 0; f < k; f++) {
        kws_window_push(&app->window, app->frames + f * KWS_N_MFCC);
        app->window_samples = app->samples;
        app->frames_since_inference++;
        if (kws_window_full(&app->window) && app->frames_since_inference * KWS_HOP_MS >= app->cfg.stride_ms) {
            app->frames_since_inference = 0;
            /* The previous one is still waiting for the engine to catch up: it will not run on a
             * window this old any more; the newer one takes its place. */
            if (app->pending) app->skipped++;
            app->pending = 1;
        }
    }
}

size_t kws_app_step(kws_app_t *app) {
    size_t total = 0;
    for (int hop = 0; hop < KWS_APP_MAX_HOPS_PER_STEP; hop++) {
        size_t n = app->io.read_audio(app->io.ctx, app->audio, KWS_HOP_LENGTH);
        if (n > KWS_HOP_LENGTH) n = KWS_HOP_LENGTH;
        if (n) {
            app->samples += n;
            total += n;
            process_chunk(app, app->audio, n);
        }
        /* Less than asked for: the source has run dry, so the window is the newest there is. */
        int dry = n < KWS_HOP_LENGTH;
        if (app->pending && app->mode == KWS_MODE_INFER && app->ready && (dry || app->cfg.offline)) {
            app->pending = 0;
            run_inference(app);
            maybe_stats(app);
            break; /* one inference per call: the caller's loop runs before the next */
        }
        maybe_stats(app);
        if (dry) break;
    }
    if (total == 0) stats_without_audio(app);
    return total;
}

void kws_app_command(kws_app_t *app, const char *line) {
    kws_command_t c = kws_parse_command(line);
    char *b = app->line;
    size_t cap = sizeof(app->line);
    switch (c.kind) {
        case KWS_CMD_NONE:
            return;
        case KWS_CMD_INFO:
            send_identity(app, "INFO");
            return;
        case KWS_CMD_REC_START:
            if (app->mode != KWS_MODE_REC) app->mode_before_rec = app->mode;
            app->mode = KWS_MODE_REC;
            app->pending = 0;
            app->rec_fill = 0;
            app->rec_seq = 0;
            emit(app, kws_encode_ack(b, cap, "rec", "start"));
            return;
        case KWS_CMD_REC_STOP:
            if (app->mode == KWS_MODE_REC) {
                app->mode = app->mode_before_rec;
                restart_features(app); /* the audio in between was not analysed */
            }
            emit(app, kws_encode_ack(b, cap, "rec", "stop"));
            return;
        case KWS_CMD_MODE:
            if (c.mode == KWS_MODE_INFER && app->mode != KWS_MODE_INFER) restart_features(app);
            if (c.mode != KWS_MODE_INFER) app->pending = 0;
            app->mode = c.mode;
            emit(app, kws_encode_ack(b, cap, "mode", kws_mode_name(c.mode)));
            return;
        case KWS_CMD_THRESHOLD: {
            kws_recognizer_set_threshold(&app->recognizer, c.threshold);
            char val[16];
            kws_format_threshold(val, sizeof(val), c.threshold);
            emit(app, kws_encode_ack(b, cap, "thr", val));
            return;
        }
        case KWS_CMD_BAD_ARG:
            emit(app, kws_encode_error(b, cap, "bad_arg", "usage: info | rec start|stop | mode infer|idle | thr 0<X<=1"));
            return;
        default:
            emit(app, kws_encode_error(b, cap, "bad_cmd", "unknown command"));
            return;
    }
}
