// Port: ESP32 DevKit with an I2S MEMS microphone (e.g. INMP441), Arduino-ESP32 2.0.x core,
// legacy driver/i2s.h. Implements kws_board.h: I2S DMA as the audio source, esp_timer as the clock,
// UART serial at 921600 baud. Pins come from build flags (platformio.ini) with defaults here.
#include <Arduino.h>
#include <driver/i2s.h>
#include <esp_timer.h>
#include <freertos/FreeRTOS.h>
#include <freertos/queue.h>

#include "kws_board.h"
#include "kws_ring.h"

#ifndef KWS_I2S_SCK
#define KWS_I2S_SCK 26
#endif
#ifndef KWS_I2S_WS
#define KWS_I2S_WS 25
#endif
#ifndef KWS_I2S_SD
#define KWS_I2S_SD 33
#endif
#ifndef KWS_I2S_LEFT
#define KWS_I2S_LEFT 1  // INMP441 with L/R tied to GND sends on the left slot; try 0 if you hear nothing
#endif
#ifndef LED_BUILTIN
#define LED_BUILTIN 2
#endif

namespace {
const i2s_port_t port = I2S_NUM_0;
const int kDmaBufSamples = 256;  // one DMA buffer: 16 ms at 16 kHz
const int kDmaBufCount = 8;      // 128 ms of audio the driver holds before it overflows
int32_t raw[kDmaBufSamples];
// The driver posts an event per DMA buffer (RX_DONE) and I2S_EVENT_RX_Q_OVF when it drops one; when
// this queue is full it discards the oldest event, so it is sized to hold a long stall's events.
const int kEventQueueLen = 32;
QueueHandle_t i2s_events = nullptr;
char cmd_buf[64];
size_t cmd_len = 0;
uint32_t led_off_ms = 0;
uint32_t dropped = 0;
uint32_t overflows = 0;
}  // namespace

bool kws_board_begin(const char **error) {
    Serial.setTxBufferSize(8192);
    Serial.begin(921600);  // must match monitor_speed: recording streams 16 kHz audio as text
    pinMode(LED_BUILTIN, OUTPUT);
    digitalWrite(LED_BUILTIN, LOW);
    i2s_config_t cfg = {};
    cfg.mode = (i2s_mode_t)(I2S_MODE_MASTER | I2S_MODE_RX);
    cfg.sample_rate = 16000;
    cfg.bits_per_sample = I2S_BITS_PER_SAMPLE_32BIT;
    cfg.channel_format = KWS_I2S_LEFT ? I2S_CHANNEL_FMT_ONLY_LEFT : I2S_CHANNEL_FMT_ONLY_RIGHT;
    cfg.communication_format = I2S_COMM_FORMAT_STAND_I2S;
    cfg.intr_alloc_flags = ESP_INTR_FLAG_LEVEL1;
    cfg.dma_buf_count = kDmaBufCount;
    cfg.dma_buf_len = kDmaBufSamples;
    i2s_pin_config_t pins = {};
    pins.mck_io_num = I2S_PIN_NO_CHANGE;
    pins.bck_io_num = KWS_I2S_SCK;
    pins.ws_io_num = KWS_I2S_WS;
    pins.data_out_num = I2S_PIN_NO_CHANGE;
    pins.data_in_num = KWS_I2S_SD;
    if (i2s_driver_install(port, &cfg, kEventQueueLen, &i2s_events) != ESP_OK || i2s_set_pin(port, &pins) != ESP_OK) {
        *error = "mic";
        return false;
    }
    return true;
}

const char *kws_board_mic_name() { return "i2s"; }

// The DMA buffers are the ring here: read what is ready without waiting (timeout 0). Each
// I2S_EVENT_RX_Q_OVF means the driver overwrote one unread DMA buffer: one overflow, and a
// buffer's worth of samples dropped.
size_t kws_board_read_audio(int16_t *buf, size_t max) {
    i2s_event_t evt;
    while (i2s_events != nullptr && xQueueReceive(i2s_events, &evt, 0) == pdTRUE) {
        if (evt.type == I2S_EVENT_RX_Q_OVF) {
            overflows++;
            dropped += kDmaBufSamples;
        }
    }
    size_t want = max < (size_t)kDmaBufSamples ? max : (size_t)kDmaBufSamples;
    size_t got = 0;
    if (i2s_read(port, raw, want * sizeof(int32_t), &got, 0) != ESP_OK) return 0;
    size_t n = got / sizeof(int32_t);
    // 24-bit samples left-aligned in 32 bits: an arithmetic shift keeps the top 16 bits.
    for (size_t i = 0; i < n; i++) buf[i] = (int16_t)(raw[i] >> 16);
    return n;
}

uint32_t kws_board_micros() { return (uint32_t)esp_timer_get_time(); }

void kws_board_write_line(const char *line, size_t len) {
    // The UART never blocks for a missing host, but a full TX buffer would stall the loop: drop instead.
    if ((size_t)Serial.availableForWrite() < len) return;
    Serial.write(reinterpret_cast<const uint8_t *>(line), len);
}

bool kws_board_read_command(char *line, size_t cap) {
    while (Serial.available() > 0) {
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
    uint32_t n = dropped;
    dropped = 0;
    return n;
}

uint32_t kws_board_take_overflows() {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

// The detection hook: lights the LED for half a second. This is the place for your own action
// (a relay, an MQTT message, ...); keep it short, the DMA buffers fill meanwhile.
void kws_board_on_detection(int label, float score) {
    (void)label;
    (void)score;
    digitalWrite(LED_BUILTIN, HIGH);
    led_off_ms = millis() + 500;
    if (led_off_ms == 0) led_off_ms = 1;
}

void kws_board_poll() {
    if (led_off_ms && (int32_t)(millis() - led_off_ms) >= 0) {
        digitalWrite(LED_BUILTIN, LOW);
        led_off_ms = 0;
    }
}
