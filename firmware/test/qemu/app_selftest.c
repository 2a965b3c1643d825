/*
 * Whole-core self-test on an emulated Cortex-M4F: the firmware's application loop exactly as the board
 * runs it (streaming MFCC -> feature window -> the inference engine -> recognizer -> protocol lines),
 * with the audio of selftest_audio.h as the microphone.
 *
 * Audio arrives one hop at a time, as from the microphone's ring, and the app steps until it has
 * consumed it; the microsecond clock is the audio clock (samples delivered / sample rate), so a run is
 * deterministic and the host replays it exactly (tinykws.boardcode.cross.run_app_on_qemu, compared with
 * the host build of the same core in tests/boardcode/test_qemu_app.py). Every line the app writes goes to
 * the semihosting console; "END" marks the end.
 *
 * The engine is whichever firmware/app/ engine the image is linked with (the native one by default);
 * kws_app_config_from_model() is the same code that fills the board's configuration.
 */
#include <stdio.h>
#include <string.h>

#include "kws_app.h"
#include "kws_app_config.h"
#include "kws_engine.h"
#include "selftest_audio.h"

static kws_app_t app;
static size_t delivered;  /* samples made available so far */
static size_t consumed;   /* samples the app has read */

static size_t read_audio(void *ctx, int16_t *buf, size_t max) {
    (void)ctx;
    size_t n = delivered - consumed;
    if (n > max) n = max;
    memcpy(buf, &selftest_audio[consumed], n * sizeof(int16_t));
    consumed += n;
    return n;
}

static uint32_t micros_cb(void *ctx) {
    (void)ctx;
    return (uint32_t)((unsigned long long)delivered * 1000000ull / KWS_SAMPLE_RATE);
}

static void write_line(void *ctx, const char *line, size_t len) {
    (void)ctx;
    fwrite(line, 1, len, stdout);
}

static int invoke(void *ctx, const int8_t *in, int8_t *out) {
    (void)ctx;
    return kws_engine_invoke(in, out);
}

int main(void) {
    const char *error = NULL, *detail = "";
    int engine_ok = kws_engine_begin(&error, &detail);
    kws_app_config_t cfg;
    kws_app_config_from_model(&cfg, "qemu", "selftest", engine_ok, engine_ok ? "ok" : error);
    static const kws_platform_t io = {read_audio, micros_cb, write_line, invoke, NULL, NULL};
    kws_app_init(&app, &cfg, &io);
    if (!engine_ok) kws_app_fail(&app, error, detail);
    while (delivered < SELFTEST_AUDIO_LEN) {
        delivered += KWS_HOP_LENGTH;
        if (delivered > SELFTEST_AUDIO_LEN) delivered = SELFTEST_AUDIO_LEN;
        while (kws_app_step(&app) != 0) {
        }
    }
    printf("END\n");
    return 0;
}
