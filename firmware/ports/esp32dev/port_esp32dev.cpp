// Port: ESP32 DevKit with an I2S MEMS microphone (e.g. INMP441), Arduino-ESP32 2.0.x core,
// legacy driver/i2s.h. Implements kws_port.h: I2S DMA as the audio source, esp_timer as the clock,
// UART serial at 921600 baud, the DevKit's LED. Pins and the gain come from build flags
// (platformio.ini) with defaults here.
//
// Microphone level: the INMP441's sensitivity is -26 dBFS at 94 dB SPL (full scale of its 24-bit
// word). Speech at arm's length (60-70 dB SPL) therefore arrives near -60 to -50 dBFS: keeping
// only the top 16 bits leaves it a few LSBs above the int16 floor, far quieter than the clips the
// model was trained on. KWS_MIC_GAIN multiplies the 24-bit sample before it is cut to 16 bits
// (with saturation): the default 16 (+24 dB) puts 60-70 dB SPL speech at -36 to -26 dBFS, and
// clips only above about 96 dB SPL (a shout close to the microphone). Range 1..128.
// Then the core's DC blocker (kws_dcblock.h) removes the offset, before the samples are handed
// on, so recordings and features see the same DC-free audio.
#include <Arduino.h>
#include <driver/i2s.h>
#include <esp_system.h>
#include <esp_task_wdt.h>
#include <esp_timer.h>
#include <freertos/FreeRTOS.h>
#include <freertos/queue.h>

#include "kws_dcblock.h"
#include "kws_port.h"
#include "kws_txgate.h"

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
#ifndef KWS_MIC_GAIN
#define KWS_MIC_GAIN 16  // x16 = +24 dB, see above
#endif
#if KWS_MIC_GAIN < 1 || KWS_MIC_GAIN > 128
#error "KWS_MIC_GAIN on the ESP32 is a multiplier, 1..128 (a 24-bit sample times 128 still fits 32 bits)"
#endif
#ifndef LED_BUILTIN
#define LED_BUILTIN 2
#endif

namespace {
const i2s_port_t port = I2S_NUM_0;
const int kDmaBufSamples = 256;  // one DMA buffer: 16 ms at 16 kHz
// ESP-IDF 4.4 queues dma_buf_count - 1 full buffers (the DMA fills the last one meanwhile): 7 x 16 ms =
// 112 ms of audio waiting to be read before the driver discards the oldest buffer.
const int kDmaBufCount = 8;
int32_t raw[kDmaBufSamples];
// The driver posts an event per DMA buffer (RX_DONE) and I2S_EVENT_RX_Q_OVF when it drops one; when
// this queue is full it discards the oldest event, so it is sized to hold a long stall's events.
const int kEventQueueLen = 32;
QueueHandle_t i2s_events = nullptr;
uint32_t dropped = 0;
uint32_t overflows = 0;
kws_dc_block_t dc_block;
kws_txgate_t tx;

// The UART's TX buffer takes a line whole if it has room, else nothing: it drains at the baud rate
// whether or not anyone listens, so there is never a reason to wait (the gate's waits are 0).
size_t uart_send(void *, const char *data, size_t len) {
    if ((size_t)Serial.availableForWrite() < len) return 0;
    return Serial.write(reinterpret_cast<const uint8_t *>(data), len);
}

uint32_t tx_micros(void *) { return (uint32_t)esp_timer_get_time(); }

// Each I2S_EVENT_RX_Q_OVF means the driver overwrote one unread DMA buffer: one overflow, and a
// buffer's worth of samples dropped.
void take_i2s_events() {
    i2s_event_t evt;
    while (i2s_events != nullptr && xQueueReceive(i2s_events, &evt, 0) == pdTRUE) {
        if (evt.type == I2S_EVENT_RX_Q_OVF) {
            overflows++;
            dropped += kDmaBufSamples;
        }
    }
}

// The 24-bit sample sits in the top of the 32-bit slot: take it (arithmetic shift), apply the
// gain, keep 16 bits, saturate.
int16_t to_int16(int32_t slot) {
    int32_t v = (slot >> 8) * KWS_MIC_GAIN;  // |v| < 2^23 * 128 = 2^30
    v >>= 8;
    return (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}
}  // namespace

const char *kws_port_begin(void) {
    Serial.setTxBufferSize(8192);
    Serial.begin(921600);  // must match monitor_speed: recording streams 16 kHz audio as text
    kws_txgate_init(&tx, uart_send, tx_micros, nullptr, 0, 0);
    kws_dc_block_reset(&dc_block);
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

// The DMA buffers are the ring here: read what is ready without waiting (timeout 0), up to `max`
// across as many DMA buffers as that takes. A read shorter than asked for tells the core the source
// is dry (the window is the newest there is), so a hop (320 samples) must never be cut at one
// 256-sample buffer: the core would infer on a stale window every time while the backlog grew into
// overflows, instead of skipping inferences it cannot keep up with. The driver discards the oldest
// buffer on overflow, so the gap lies before what is still queued: after an overflow nothing is read
// until the application has taken the count (kws_port_take_dropped) and restarted its features, so
// no frame joins the two sides.
size_t kws_port_read_audio(int16_t *buf, size_t max) {
    take_i2s_events();
    if (dropped) return 0;
    size_t total = 0;
    while (total < max) {
        const size_t want = max - total < (size_t)kDmaBufSamples ? max - total : (size_t)kDmaBufSamples;
        size_t got = 0;
        if (i2s_read(port, raw, want * sizeof(int32_t), &got, 0) != ESP_OK) break;
        const size_t n = got / sizeof(int32_t);
        for (size_t i = 0; i < n; i++) buf[total + i] = to_int16(raw[i]);
        kws_dc_block_run(&dc_block, buf + total, n);
        total += n;
        if (n < want) break;  // nothing more is ready
    }
    return total;
}

uint32_t kws_port_micros(void) { return (uint32_t)esp_timer_get_time(); }

// A full TX buffer would stall the loop: the gate drops the line whole instead, and counts it.
void kws_port_write_line(const char *line, size_t len) { kws_txgate_write(&tx, line, len); }

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
    take_i2s_events();
    uint32_t n = dropped;
    dropped = 0;
    return n;
}

uint32_t kws_port_take_overflows(void) {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

uint32_t kws_port_take_tx_dropped(void) { return kws_txgate_take_dropped(&tx); }

void kws_port_set_led(int on) { digitalWrite(LED_BUILTIN, on ? HIGH : LOW); }

// Nothing to look after: the I2S driver keeps running through overflows (kws_port_read_audio
// counts them from its event queue).
void kws_port_poll(void) {}

// delay() is vTaskDelay: the loop's task sleeps one FreeRTOS tick (1 ms) and the idle task runs
// WAITI; the I2S DMA keeps filling its buffers meanwhile (7 x 16 ms queued).
void kws_port_idle(void) { delay(1); }

// ESP-IDF's task watchdog, with the loop's task subscribed: a panic and reset when that task does
// not feed it for the timeout (whole seconds, rounded up). Arduino-ESP32 has already initialised it
// for the idle tasks; esp_task_wdt_init reconfigures it then.
void kws_port_watchdog_start(uint32_t timeout_ms) {
    esp_task_wdt_init((timeout_ms + 999u) / 1000u, true);
    esp_task_wdt_add(NULL);
}

void kws_port_watchdog_feed(void) { esp_task_wdt_reset(); }

const char *kws_port_reset_reason(void) {
    switch (esp_reset_reason()) {
        case ESP_RST_POWERON: return "power";  // also the DevKit's EN button: it powers the chip down
        case ESP_RST_EXT: return "pin";
        case ESP_RST_SW: return "soft";
        case ESP_RST_PANIC: return "panic";
        case ESP_RST_INT_WDT:
        case ESP_RST_TASK_WDT:
        case ESP_RST_WDT: return "wdt";
        case ESP_RST_BROWNOUT: return "brownout";
        case ESP_RST_DEEPSLEEP: return "sleep";
        default: return "other";
    }
}
