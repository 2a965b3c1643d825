// Port: Arduino Nano 33 BLE Sense (nRF52840, mbed core). PDM microphone, DWT cycle counter,
// native USB serial. On a plain Nano 33 BLE (no microphone) PDM.begin fails and the board
// reports status=mic instead of hanging.
#include <Arduino.h>
#include <PDM.h>

#include "kws_board.h"
#include "kws_ring.h"

#ifndef KWS_PDM_GAIN
#define KWS_PDM_GAIN 20  // 0..80; the core's default
#endif

namespace {
kws_ring_t ring;
volatile uint32_t overflows = 0;
int16_t pdm_chunk[256];
char cmd_buf[64];
size_t cmd_len = 0;
uint32_t led_off_ms = 0;
uint32_t last_dropped = 0;

// Interrupt context: copy into the ring and return. Anything slower risks the next buffer.
void on_pdm_data() {
    int bytes = PDM.available();
    if (bytes <= 0) return;
    if (bytes > (int)sizeof(pdm_chunk)) bytes = sizeof(pdm_chunk);
    PDM.read(pdm_chunk, bytes);
    kws_ring_write(&ring, pdm_chunk, (size_t)bytes / 2);
}

void enable_cycle_counter() {
    CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
    DWT->CYCCNT = 0;
    DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}
}  // namespace

bool kws_board_begin(const char **error) {
    Serial.begin(115200);  // USB CDC: the rate is ignored
    // Wait a little for a host, never forever: on battery nobody will open the port.
    for (uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) delay(10);
    pinMode(LED_BUILTIN, OUTPUT);
    digitalWrite(LED_BUILTIN, LOW);
    enable_cycle_counter();
    PDM.onReceive(on_pdm_data);
    PDM.setBufferSize(sizeof(pdm_chunk));
    if (!PDM.begin(1, 16000)) {
        *error = "mic";
        return false;
    }
    PDM.setGain(KWS_PDM_GAIN);
    return true;
}

const char *kws_board_mic_name() { return "pdm"; }

size_t kws_board_read_audio(int16_t *buf, size_t max) { return kws_ring_read(&ring, buf, max); }

// DWT->CYCCNT counts CPU cycles (15.6 ns at 64 MHz) and wraps after ~67 s; the app only
// takes differences of this clock, and unsigned arithmetic handles one wrap.
uint32_t kws_board_micros() {
    static uint32_t last_cycles = 0, us = 0, rem = 0;
    uint32_t now = DWT->CYCCNT;
    uint32_t delta = now - last_cycles + rem;
    last_cycles = now;
    uint32_t per_us = SystemCoreClock / 1000000u;
    us += delta / per_us;
    rem = delta % per_us;
    return us;
}

void kws_board_write_line(const char *line, size_t len) {
    // Writes are dropped silently by the core while no host has the port open; also skip
    // when the USB buffer is full rather than stall the audio loop.
    if (!Serial) return;
    if ((size_t)Serial.availableForWrite() < len && Serial.availableForWrite() < 64) return;
    Serial.write(reinterpret_cast<const uint8_t *>(line), len);
}

bool kws_board_read_command(char *line, size_t cap) {
    while (Serial && Serial.available() > 0) {
        int c = Serial.read();
        if (c == '\n') {
            size_t n = cmd_len < cap - 1 ? cmd_len : cap - 1;
            memcpy(line, cmd_buf, n);
            line[n] = '\0';
            cmd_len = 0;
            return true;
        }
        if (c != '\r' && cmd_len < sizeof(cmd_buf)) cmd_buf[cmd_len++] = (char)c;
    }
    return false;
}

uint32_t kws_board_take_dropped() {
    uint32_t d = ring.dropped;
    uint32_t n = d - last_dropped;
    last_dropped = d;
    if (n) overflows++;
    return n;
}

uint32_t kws_board_take_overflows() {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

// The detection hook: light the LED for half a second. Replace or extend with your own action.
void kws_board_on_detection(int label, float score) {
    (void)label;
    (void)score;
    digitalWrite(LED_BUILTIN, HIGH);
    led_off_ms = millis() + 500;
}

void kws_board_poll() {
    if (led_off_ms && (int32_t)(millis() - led_off_ms) >= 0) {
        digitalWrite(LED_BUILTIN, LOW);
        led_off_ms = 0;
    }
}
