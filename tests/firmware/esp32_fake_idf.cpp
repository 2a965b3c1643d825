// The ESP32 below the port, on the host: the I2S driver's DMA queue as ESP-IDF 4.4 runs it, a virtual
// clock, a UART and an engine that takes as long as the board's. Compiled with the real
// firmware/ports/esp32dev/port_esp32dev.cpp, firmware/app/main.cpp and the core (test_esp32_port.py).
//
// The driver model (ESP-IDF 4.4 driver/i2s.c): the DMA fills dma_buf_count buffers of dma_buf_len
// frames in turn; each full buffer is posted to a queue of dma_buf_count - 1 entries, and when that
// queue is full the oldest unread buffer is discarded and I2S_EVENT_RX_Q_OVF is posted. i2s_read with
// a timeout of 0 copies from the buffer it holds, then takes queued buffers while more is asked for,
// and returns what it has when the queue is empty.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>

#include "Arduino.h"
#include "driver/i2s.h"
#include "esp_system.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "freertos/queue.h"
#include "kws_engine.h"
#include "kws_model.h"

#ifndef FAKE_ENGINE_US
#define FAKE_ENGINE_US 105000  // one inference on the ESP32 (the portable path, estimated)
#endif
#ifndef FAKE_SECONDS
#define FAKE_SECONDS 20
#endif
#ifndef FAKE_LOOP_US
#define FAKE_LOOP_US 300  // one pass of loop() that finds nothing to do
#endif

static int64_t now_us = 0;
static int buf_len = 0, buf_count = 0;
static long long produced = 0;                  // DMA buffers filled since start
static std::deque<long long> queued;            // full buffers waiting for i2s_read
static long long curr = -1;                     // the buffer i2s_read holds, and how far it has read
static int rw_pos = 0;
static std::deque<i2s_event_t> events;          // the driver's event queue
static int event_len = 0;
static long long overflowed = 0;

static void dma_catch_up() {
    if (buf_len == 0) return;
    const long long due = now_us * 16 / 1000 / buf_len;  // 16 kHz
    while (produced < due) {
        if ((int)queued.size() == buf_count - 1) {  // full: the oldest unread buffer is lost
            queued.pop_front();
            overflowed++;
            i2s_event_t e = {I2S_EVENT_RX_Q_OVF, 0};
            if ((int)events.size() == event_len) events.pop_front();
            events.push_back(e);
        }
        queued.push_back(produced++);
    }
}

// The task watchdog: its configuration, the loop task's feeds and the longest gap between two.
static long wdt_timeout_s = 0, wdt_tasks = 0, feeds = 0, idles = 0, loops = 0, feeds_in_loop = 0;
static int64_t last_feed_us = -1, max_feed_gap_us = 0;

extern "C" {
esp_err_t esp_task_wdt_init(uint32_t timeout_seconds, bool panic) {
    wdt_timeout_s = panic ? (long)timeout_seconds : -1;
    return ESP_OK;
}
esp_err_t esp_task_wdt_add(TaskHandle_t task) {
    wdt_tasks += task == NULL;  // the calling task: the loop's
    return ESP_OK;
}
esp_err_t esp_task_wdt_reset(void) {
    if (last_feed_us >= 0 && now_us - last_feed_us > max_feed_gap_us) max_feed_gap_us = now_us - last_feed_us;
    last_feed_us = now_us;
    feeds++;
    feeds_in_loop++;
    return ESP_OK;
}
esp_reset_reason_t esp_reset_reason(void) {
    return getenv("FAKE_RESET_WDT") ? ESP_RST_TASK_WDT : ESP_RST_POWERON;
}
void delay(uint32_t ms) {
    idles++;
    now_us += (int64_t)ms * 1000;
}
int64_t esp_timer_get_time(void) { return now_us; }
unsigned long millis(void) { return (unsigned long)(now_us / 1000); }
unsigned long micros(void) { return (unsigned long)now_us; }
void pinMode(uint8_t, uint8_t) {}
void digitalWrite(uint8_t, uint8_t) {}

esp_err_t i2s_set_pin(i2s_port_t, const i2s_pin_config_t *) { return ESP_OK; }
esp_err_t i2s_driver_install(i2s_port_t, const i2s_config_t *cfg, int queue_size, void *queue) {
    buf_len = cfg->dma_buf_len;
    buf_count = cfg->dma_buf_count;
    event_len = queue_size;
    *(QueueHandle_t *)queue = (QueueHandle_t)&events;
    return ESP_OK;
}
esp_err_t i2s_read(i2s_port_t, void *dest, size_t size, size_t *bytes_read, TickType_t) {
    dma_catch_up();
    int32_t *out = (int32_t *)dest;
    size_t want = size / sizeof(int32_t), n = 0;
    while (n < want) {
        if (curr < 0 || rw_pos == buf_len) {
            if (queued.empty()) break;
            curr = queued.front();
            queued.pop_front();
            rw_pos = 0;
        }
        // A sample's value is its own index in the stream, in the top 24 bits of the slot.
        out[n++] = (int32_t)(((curr * buf_len + rw_pos) % 4096 - 2048) << 8);
        rw_pos++;
    }
    *bytes_read = n * sizeof(int32_t);
    return ESP_OK;
}
BaseType_t xQueueReceive(QueueHandle_t q, void *const item, TickType_t) {
    if (q != (QueueHandle_t)&events || events.empty()) return pdFALSE;
    memcpy(item, &events.front(), sizeof(i2s_event_t));
    events.pop_front();
    return pdTRUE;
}
}

// The UART: the host's bytes arrive at set times; lines go to stdout with the virtual time.
static const struct { int64_t at_us; const char *text; } host[] = {
    {3000000, "info\n"}, {9000000, "thr 0.5\n"}, {15000000, "info\n"}};
static size_t host_i = 0, host_pos = 0;
HardwareSerial Serial;
void HardwareSerial::begin(unsigned long, uint32_t, int8_t, int8_t, bool, unsigned long, uint8_t) {}
int HardwareSerial::available(void) {
    if (host_i >= sizeof(host) / sizeof(host[0]) || now_us < host[host_i].at_us) return 0;
    return (int)(strlen(host[host_i].text) - host_pos);
}
int HardwareSerial::read(void) {
    if (available() <= 0) return -1;
    const char c = host[host_i].text[host_pos++];
    if (host[host_i].text[host_pos] == 0) host_i++, host_pos = 0;
    return (unsigned char)c;
}
int HardwareSerial::availableForWrite(void) { return 8192; }
size_t HardwareSerial::write(uint8_t c) { return fwrite(&c, 1, 1, stdout); }
size_t HardwareSerial::write(const uint8_t *b, size_t n) { return fwrite(b, 1, n, stdout); }
size_t HardwareSerial::setRxBufferSize(size_t n) { return n; }
size_t HardwareSerial::setTxBufferSize(size_t n) { return n; }
HardwareSerial::operator bool() const { return true; }

// An engine as slow as the board's: the clock moves on while it runs, and the DMA keeps filling.
bool kws_engine_begin(const char **, const char **) { return true; }
size_t kws_engine_ram_used(void) { return 1000; }
size_t kws_engine_ram_reserved(void) { return 2000; }
const char *kws_engine_name(void) { return "fake"; }
uint32_t kws_engine_weights_crc32(void) { return 0; }
static long invocations = 0;
int kws_engine_invoke(const int8_t *, int8_t *out) {
    now_us += FAKE_ENGINE_US;
    invocations++;
    memset(out, -128, KWS_MODEL_NUM_LABELS);
    out[KWS_MODEL_SILENCE_INDEX] = 127;
    return 0;
}

void setup();
void loop();

int main(void) {
    setup();
    long unfed_loops = 0;
    while (now_us < (int64_t)FAKE_SECONDS * 1000000) {
        feeds_in_loop = 0;
        loop();
        loops++;
        unfed_loops += feeds_in_loop != 1;
        now_us += FAKE_LOOP_US;
    }
    printf("END invocations=%ld driver_overflows=%lld wdt_timeout_s=%ld wdt_tasks=%ld feeds=%ld loops=%ld "
           "unfed_loops=%ld max_feed_gap_us=%lld idles=%ld\n", invocations, overflowed, wdt_timeout_s, wdt_tasks,
           feeds, loops, unfed_loops, (long long)max_feed_gap_us, idles);
    return 0;
}
