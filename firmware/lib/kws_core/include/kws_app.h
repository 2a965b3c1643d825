/*
 * kws_app.h - the keyword spotting application loop, behind small interfaces.
 *
 * Contract: a port fills a kws_platform_t (audio source, microsecond clock,
 * serial sink, inference engine, detection hook) and a kws_app_config_t (from
 * the generated kws_model.h and kws_feature_spec.h), calls kws_app_init once
 * (it writes the BOOT line), then kws_app_step in its main loop and
 * kws_app_command for every line the host sends. Nothing here touches hardware,
 * allocates, or blocks: the same loop runs on the board, on the host with a WAV
 * file as its microphone (tinykws sim), and in the streaming evaluation.
 *
 * Bounded work: one kws_app_step reads at most KWS_APP_MAX_HOPS_PER_STEP hops
 * of audio and runs at most one inference, then returns, so the caller's loop
 * (commands, the port's housekeeping and dropped-sample accounting) always
 * runs, however slow the engine. Features are computed for every hop. An
 * inference that falls due waits until the audio source has run dry (the
 * window is then the newest there is); if the next one falls due before that,
 * the waiting one is skipped and counted (STAT skipped=), so a slow engine
 * makes the board infer less often instead of falling behind the microphone.
 * With cfg.offline set (audio from a file, not in real time) every due window
 * is inferred at once and nothing is skipped.
 *
 * Lost audio: kws_app_add_dropped (the port lost samples) restarts the MFCC and
 * the window, so no frame joins audio from both sides of the gap; recording
 * mode skips an AUD sequence number so the host sees the gap too.
 *
 * Time: t_ms in every line is audio time (samples consumed, dropped ones
 * included, at KWS_SAMPLE_RATE), so detections line up with the audio; the
 * micros clock measures how long each stage took, and keeps STAT lines coming
 * when no audio arrives at all (a dead microphone still reports).
 */
#ifndef KWS_APP_H
#define KWS_APP_H

#include <stddef.h>
#include <stdint.h>

#include "kws_feature_spec.h"
#include "kws_mfcc.h"
#include "kws_protocol.h"
#include "kws_recognizer.h"
#include "kws_window.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KWS_APP_MAX_HOPS_PER_STEP
#define KWS_APP_MAX_HOPS_PER_STEP 8 /* hops of audio one kws_app_step may read (8 x 20 ms = 160 ms) */
#endif

typedef struct {
    /* Copy up to max samples of microphone audio into buf; return how many (0: none ready). */
    size_t (*read_audio)(void *ctx, int16_t *buf, size_t max);
    /* A free-running microsecond counter (wrapping is fine). */
    uint32_t (*micros)(void *ctx);
    /* Send one complete line (ends in "\n"); must not block forever; may drop. */
    void (*write_line)(void *ctx, const char *line, size_t len);
    /* Run the model on KWS_N_FRAMES*KWS_N_MFCC int8 inputs, write n_labels int8 outputs; 0 = ok. */
    int (*invoke)(void *ctx, const int8_t *input, int8_t *output);
    /* Called on every detection (may be NULL): the place for the user's own action. */
    void (*on_detection)(void *ctx, int label, float score);
    void *ctx;
} kws_platform_t;

typedef struct {
    kws_identity_t identity;              /* for the BOOT / INFO lines */
    const char *const *labels;
    int n_labels;
    float input_scale;
    int input_zero_point;
    float output_scale;
    int output_zero_point;
    uint32_t stride_ms;                   /* inference every stride_ms of audio (a multiple of KWS_HOP_MS) */
    kws_recognizer_config_t recognizer;
    uint32_t stats_period_ms;             /* STAT line period (audio time) */
    int offline;                          /* nonzero: audio is not real time (a file): infer every due window */
} kws_app_config_t;

typedef struct {
    kws_app_config_t cfg;
    kws_platform_t io;
    kws_mfcc_t mfcc;
    kws_window_t window;
    kws_recognizer_t recognizer;
    kws_mode_t mode;
    kws_mode_t mode_before_rec;
    uint64_t samples;                     /* audio clock: consumed + dropped samples */
    uint32_t frames_since_inference;
    int pending;                          /* an inference fell due and waits for the source to run dry */
    uint64_t window_samples;              /* audio clock at the newest frame in the window (INF/DET t_ms) */
    uint32_t feat_us;                     /* feature time accumulated since the last inference */
    int16_t audio[KWS_HOP_LENGTH];
    float frames[2 * KWS_N_MFCC];
    int16_t rec_buf[KWS_AUDIO_CHUNK];
    int rec_fill;
    uint32_t rec_seq;
    int8_t input[KWS_N_FRAMES * KWS_N_MFCC];
    int8_t output[KWS_RECOGNIZER_MAX_LABELS];
    float scores[KWS_RECOGNIZER_MAX_LABELS];
    uint32_t inferences, detections, dropped, overflows, errors;
    uint32_t invoke_failures; /* said in ERR lines at the 1st, 2nd, 4th, 8th... failure */
    uint32_t skipped;                     /* due inferences not run because the engine was behind */
    uint32_t tx_dropped;                  /* lines the port dropped because the host was not reading */
    uint32_t last_stats_ms, inferences_at_last_stats;
    uint32_t last_stats_us;               /* micros at the last STAT, for the no-audio fallback */
    int ready;                            /* 0 after a fatal error: audio is consumed, nothing inferred */
    char line[KWS_LINE_MAX + 1];
} kws_app_t;

/* Returns 0, or -1 if the config is unusable (an ERR line says why). Writes the BOOT line. */
int kws_app_init(kws_app_t *app, const kws_app_config_t *cfg, const kws_platform_t *io);
/* Bounded work (see above): up to KWS_APP_MAX_HOPS_PER_STEP hops of audio, at most one inference.
 * Returns the number of samples consumed (0: the source had none). */
size_t kws_app_step(kws_app_t *app);
/* Handle one host command line. */
void kws_app_command(kws_app_t *app, const char *line);
/* The port lost audio (ring buffer full) / the microphone driver overflowed. */
void kws_app_add_dropped(kws_app_t *app, uint32_t samples);
void kws_app_add_overflow(kws_app_t *app);
/* The port dropped n whole lines because the host was not reading (kws_port_take_tx_dropped). */
void kws_app_add_tx_dropped(kws_app_t *app, uint32_t lines);
/* Report a fatal start-up fault (e.g. "arena", "op_missing"): ERR line, inference off. */
void kws_app_fail(kws_app_t *app, const char *code, const char *msg);
uint32_t kws_app_time_ms(const kws_app_t *app);

#ifdef __cplusplus
}
#endif
#endif
