// tinykws firmware entry point: wiring, plus the LED timer and the detection hook. The board port
// (ports/<board>/, implementing kws_port.h) supplies audio, the clock, serial bytes and the LED;
// the inference engine (kws_engine.h, implemented by native_engine.c) runs the model; the portable
// core in lib/kws_core does everything else (features, recognizer, protocol, command line assembly).
// The model comes from the include path (kws_model_data.cpp says why).
//
// Arduino.h declares setup() and loop() with the linkage the Arduino core's startup code expects.
#include <Arduino.h>
#include <string.h>

#include "kws_app.h"
#include "kws_app_config.h"
#include "kws_cmdline.h"
#include "kws_engine.h"
#include "kws_model.h"
#include "kws_port.h"

namespace {
const uint32_t kLedOnUs = 500000;  // the LED stays on this long after a detection
const size_t kSerialChunk = 64;    // host bytes taken per loop; commands are short and rare
// The watchdog resets the board when one loop takes longer than this. A loop does bounded work: at
// most 8 hops of audio and one inference (66 ms for the shipped model on the Nano, about 61 ms
// estimated on the ESP32; the export refuses models slower than their stride), so 8 s is only ever
// reached by a hang. A port may take longer (the Nano: at least 60 s, kws_port_watchdog_start says why).
const uint32_t kWatchdogMs = 8000;

kws_app_t app;
kws_cmdline_t cmdline;
bool led_on = false;
uint32_t led_on_since_us = 0;

size_t read_audio(void *, int16_t *buf, size_t max) { return kws_port_read_audio(buf, max); }
uint32_t micros_cb(void *) { return kws_port_micros(); }
void write_line(void *, const char *line, size_t len) { kws_port_write_line(line, len); }
int invoke(void *, const int8_t *in, int8_t *out) { return kws_engine_invoke(in, out); }

// The detection hook: lights the LED for half a second (switch_led_off_when_due turns it off).
// This is the place for your own action (a relay, a BLE notification, an MQTT message, ...); label
// indexes kws_model_labels. Keep it short: the microphone keeps delivering audio meanwhile.
void on_detection(void *, int label, float score) {
    (void)label;
    (void)score;
    kws_port_set_led(1);
    led_on = true;
    led_on_since_us = kws_port_micros();
}

// Unsigned difference: correct across the 32-bit clock's wrap.
void switch_led_off_when_due() {
    if (led_on && kws_port_micros() - led_on_since_us >= kLedOnUs) {
        kws_port_set_led(0);
        led_on = false;
    }
}

// Returns how many bytes the host sent.
size_t handle_host_input() {
    char bytes[kSerialChunk];
    const size_t n = kws_port_read_serial(bytes, sizeof(bytes));
    for (size_t i = 0; i < n; i++) {
        const char *line = kws_cmdline_push(&cmdline, bytes[i]);
        if (line != nullptr) kws_app_command(&app, line);
    }
    return n;
}
}  // namespace

void setup() {
    const char *port_error = kws_port_begin();  // NULL: serial, LED, clock and microphone started
    const bool mic_ok = port_error == nullptr;
    const char *engine_error = nullptr;
    const char *engine_detail = "";
    bool engine_ok = kws_engine_begin(&engine_error, &engine_detail);

    // A model exported for another feature spec would silently compute wrong features: refuse it.
    const bool spec_ok = kws_model_matches_spec();
    const char *status = !engine_ok ? engine_error : (!mic_ok ? port_error : (!spec_ok ? "bad_arg" : "ok"));
    kws_app_config_t cfg;
    kws_app_config_from_model(&cfg, KWS_BOARD_NAME, kws_port_mic_name(), engine_ok, status);
    cfg.identity.reset = kws_port_reset_reason();

    static const kws_platform_t io = {read_audio, micros_cb, write_line, invoke, on_detection, nullptr};
    kws_cmdline_reset(&cmdline);
    kws_app_init(&app, &cfg, &io);  // writes the BOOT line, with the status
    // Faults are reported, never a silent hang: the loop keeps answering commands and STAT.
    if (!engine_ok) kws_app_fail(&app, engine_error, engine_detail);
    else if (!spec_ok) kws_app_fail(&app, "bad_arg", "model exported for another feature spec: re-export");
    if (!mic_ok) {
        kws_app_fail(&app, port_error,
                     strcmp(port_error, "mic") == 0 ? "microphone did not start" : "the board did not start");
    }
    kws_port_watchdog_start(kWatchdogMs);
}

void loop() {
    uint32_t dropped = kws_port_take_dropped();
    if (dropped) kws_app_add_dropped(&app, dropped);
    for (uint32_t n = kws_port_take_overflows(); n; n--) kws_app_add_overflow(&app);
    const uint32_t tx_dropped = kws_port_take_tx_dropped();
    if (tx_dropped) kws_app_add_tx_dropped(&app, tx_dropped);
    const size_t samples = kws_app_step(&app);
    const size_t host_bytes = handle_host_input();
    switch_led_off_when_due();
    kws_port_poll();
    kws_port_watchdog_feed();  // a whole loop completed
    // Nothing came: sleep until the next interrupt instead of spinning (the CPU's duty is then the
    // share of the stride it computes; tinykws/export/energy.py).
    if (samples == 0 && host_bytes == 0) kws_port_idle();
}
