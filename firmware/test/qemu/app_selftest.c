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
 *
 * Built with -DKWS_SELFTEST_CLOCK_HZ=F (and run under -icount shift=0), the clock is the core's own:
 * the instructions it executed (SysTick, calibrated as in qemu_ticks.h) times KWS_SELFTEST_CPI_X100 / 100
 * cycles each, at F Hz. Audio then arrives as that clock advances, into a ring of KWS_SELFTEST_RING
 * samples as the microphone's interrupt would fill it (what does not fit is dropped and reported), so an
 * engine slower than the stride makes the app skip inferences on the emulated core itself.
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

#ifdef KWS_SELFTEST_CLOCK_HZ
#include "qemu_ticks.h"
#ifndef KWS_SELFTEST_CPI_X100
#define KWS_SELFTEST_CPI_X100 100
#endif
#ifndef KWS_SELFTEST_RING
#define KWS_SELFTEST_RING 8191u
#endif
static unsigned calibration;   /* SysTick ticks per 400,000 instructions */
static unsigned last_ticks;
static unsigned long long ticks_total;

/* Microseconds of the modelled board: executed instructions x cycles per instruction / clock. */
static unsigned long long board_micros(void) {
    unsigned t = ticks_now();
    ticks_total += (last_ticks - t) & 0xFFFFFFu; /* SysTick counts down; polled far more often than it wraps */
    last_ticks = t;
    unsigned long long instructions = ticks_total * 400000ull / calibration;
    return instructions * KWS_SELFTEST_CPI_X100 / 100ull * 1000000ull / (unsigned long long)KWS_SELFTEST_CLOCK_HZ;
}

/* The microphone's interrupt: every sample whose time has come, into the ring or dropped. */
static void microphone(void) {
    size_t due = (size_t)(board_micros() * KWS_SAMPLE_RATE / 1000000ull);
    if (due > SELFTEST_AUDIO_LEN) due = SELFTEST_AUDIO_LEN;
    if (due <= delivered) return;
    delivered = due;
    if (delivered - consumed > KWS_SELFTEST_RING) {
        size_t lost = delivered - consumed - KWS_SELFTEST_RING;
        consumed += lost;
        kws_app_add_dropped(&app, (uint32_t)lost);
    }
}
#endif

static size_t read_audio(void *ctx, int16_t *buf, size_t max) {
    (void)ctx;
#ifdef KWS_SELFTEST_CLOCK_HZ
    microphone();
#endif
    size_t n = delivered - consumed;
    if (n > max) n = max;
    memcpy(buf, &selftest_audio[consumed], n * sizeof(int16_t));
    consumed += n;
    return n;
}

static uint32_t micros_cb(void *ctx) {
    (void)ctx;
#ifdef KWS_SELFTEST_CLOCK_HZ
    return (uint32_t)board_micros();
#endif
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
#ifdef KWS_SELFTEST_CLOCK_HZ
    calibration = qemu_ticks_start();
    last_ticks = ticks_now();
    while (consumed < SELFTEST_AUDIO_LEN) {
        microphone();
        kws_app_step(&app);
    }
    printf("END\n");
    return 0;
#endif
    while (delivered < SELFTEST_AUDIO_LEN) {
        delivered += KWS_HOP_LENGTH;
        if (delivered > SELFTEST_AUDIO_LEN) delivered = SELFTEST_AUDIO_LEN;
        while (kws_app_step(&app) != 0) {
        }
    }
    printf("END\n");
    return 0;
}
