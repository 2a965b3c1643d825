// Port: ESP32 DevKit with an I2S MEMS microphone (e.g. INMP441), Arduino-ESP32 2.0.x core,
// legacy driver/i2s.h. Implements kws_port.h: I2S DMA as the audio source, esp_timer as the clock,
// UART serial at 921600 baud, the DevKit's LED. Pins come from build flags (platformio.ini) with
// defaults here.
#include <Arduino.h>
#include <driver/i2s.h>
#include <esp_timer.h>
#include <freertos/FreeRTOS.h>
#include <freertos/queue.h>

#include "kws_port.h"

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
uint32_t dropped = 0;
uint32_t overflows = 0;
}  // namespace

const char *kws_port_begin(void) {
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
        return "mic";
    }
    return nullptr;
}

const char *kws_port_mic_name(void) { return "i2s"; }

// The DMA buffers are the ring here: read what is ready without waiting (timeout 0). Each
// I2S_EVENT_RX_Q_OVF means the driver overwrote one unread DMA buffer: one overflow, and a
// buffer's worth of samples dropped.
size_t kws_port_read_audio(int16_t *buf, size_t max) {
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

uint32_t kws_port_micros(void) { return (uint32_t)esp_timer_get_time(); }

void kws_port_write_line(const char *line, size_t len) {
    // The UART never blocks for a missing host, but a full TX buffer would stall the loop: drop instead.
    if ((size_t)Serial.availableForWrite() < len) return;
    Serial.write(reinterpret_cast<const uint8_t *>(line), len);
}

size_t kws_port_read_serial(char *buf, size_t max) {
    size_t n = 0;
    while (n < max && Serial.available() > 0) {
        int c = Serial.read();
        if (c < 0) break;
        buf[n++] = (char)c;
    }
    return n;
}

uint32_t kws_port_take_dropped(void) {
    uint32_t n = dropped;
    dropped = 0;
    return n;
}

uint32_t kws_port_take_overflows(void) {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

void kws_port_set_led(int on) { digitalWrite(LED_BUILTIN, on ? HIGH : LOW); }

// Nothing to look after: the I2S driver keeps running through overflows (kws_port_read_audio
// counts them from its event queue).
void kws_port_poll(void) {}
