// Port: Arduino Nano 33 BLE Sense (nRF52840, Arduino mbed core). Implements kws_port.h with the
// PDM microphone, the DWT cycle counter as the clock, the native USB serial and the built-in LED.
//
// On a plain Nano 33 BLE (no microphone) PDM.begin fails and the board reports status=mic instead
// of hanging. Build flag: -DKWS_PDM_GAIN=<0..80> sets the microphone gain (default 20).
#include <Arduino.h>
#include <PDM.h>

#include "USB/PluggableUSBSerial.h"  // _SerialUSB, the USB CDC object behind Serial (for send_nb)
#include "kws_port.h"
#include "kws_ring.h"

#ifndef KWS_PDM_GAIN
#define KWS_PDM_GAIN 20  // 0..80, the PDM library's default
#endif
#ifndef KWS_SERIAL_TIMEOUT_US
#define KWS_SERIAL_TIMEOUT_US 20000u  // longest a line may wait for the host before it is cut short
#endif

namespace {
const int kSampleRate = 16000;  // the nRF52 PDM driver accepts 16000 and 41667 only
// The PDM driver delivers its double buffer in chunks of this many bytes: 256 samples, 16 ms.
const int kPdmChunkBytes = 512;
// If no chunk arrives for this long while the microphone runs, the driver has stopped itself
// (it disables PDM when a buffer was not drained in time): count an overflow and restart it.
const uint32_t kPdmStallMs = 100;

kws_ring_t ring;  // written by the PDM interrupt only, read by the main loop only
int16_t pdm_chunk[kPdmChunkBytes / 2];
volatile uint32_t pdm_chunks = 0;

bool mic_running = false;
uint32_t chunks_seen = 0;
uint32_t last_chunk_ms = 0;
uint32_t overflows = 0;
uint32_t dropped_reported = 0;
bool line_cut = false;

// Interrupt context: copy the chunk into the ring and return; anything slower risks the next
// buffer. A full ring drops the new samples and counts them (ring.dropped).
void on_pdm_data() {
    int bytes = PDM.available();
    if (bytes <= 0) return;
    if (bytes > kPdmChunkBytes) bytes = kPdmChunkBytes;
    PDM.read(pdm_chunk, (size_t)bytes);
    kws_ring_write(&ring, pdm_chunk, (size_t)bytes / 2);
    pdm_chunks = pdm_chunks + 1;
}

bool start_mic() {
    PDM.onReceive(on_pdm_data);
    PDM.setBufferSize(kPdmChunkBytes);
    if (!PDM.begin(1, kSampleRate)) return false;
    PDM.setGain(KWS_PDM_GAIN);
    chunks_seen = pdm_chunks;
    last_chunk_ms = millis();
    return true;
}

void enable_cycle_counter() {
    CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;  // the DWT unit is off until trace is enabled
    DWT->CYCCNT = 0;
    DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}
}  // namespace

const char *kws_port_begin(void) {
    Serial.begin(115200);  // USB CDC: the rate is ignored
    // Give a host up to 3 s to open the port so the BOOT line is seen; never wait forever:
    // on a battery nobody will open it.
    for (uint32_t t0 = millis(); !Serial && millis() - t0 < 3000;) delay(10);
    pinMode(LED_BUILTIN, OUTPUT);
    digitalWrite(LED_BUILTIN, LOW);
    enable_cycle_counter();
    mic_running = start_mic();
    return mic_running ? nullptr : "mic";
}

const char *kws_port_mic_name(void) { return "pdm"; }

size_t kws_port_read_audio(int16_t *buf, size_t max) { return kws_ring_read(&ring, buf, max); }

// DWT->CYCCNT counts CPU cycles (15.6 ns at 64 MHz) and wraps every 2^32 cycles (~67 s). This
// folds each call's cycle difference into a microsecond count, carrying the remainder, so the
// result is a free-running 32-bit microsecond clock. Unsigned subtraction handles the wrap as
// long as calls are less than ~67 s apart (the main loop calls it many times a second).
uint32_t kws_port_micros(void) {
    static uint32_t last_cycles = 0, us = 0, rem_cycles = 0;
    const uint32_t cycles_per_us = SystemCoreClock / 1000000u ? SystemCoreClock / 1000000u : 64u;
    uint32_t now = DWT->CYCCNT;
    uint32_t delta = now - last_cycles;
    last_cycles = now;
    uint64_t total = (uint64_t)delta + rem_cycles;
    us += (uint32_t)(total / cycles_per_us);
    rem_cycles = (uint32_t)(total % cycles_per_us);
    return us;
}

// The core's Serial.write() waits until the host has taken every byte, and `!Serial` costs a
// 1 ms delay per call; availableForWrite() is not implemented (always 0). So: drop lines while no
// terminal is connected (DTR), and push the rest packet by packet with the non-blocking send_nb,
// giving up after KWS_SERIAL_TIMEOUT_US if the host stops reading. A line cut short is closed
// with a newline before the next one, so the host discards it and resynchronises.
void kws_port_write_line(const char *line, size_t len) {
    if (!_SerialUSB.connected()) return;
    uint8_t *p = reinterpret_cast<uint8_t *>(const_cast<char *>(line));
    uint32_t left = (uint32_t)len;
    const uint32_t t0 = micros();
    if (line_cut) {
        uint32_t n = 0;
        uint8_t nl = '\n';
        while (n == 0 && micros() - t0 < KWS_SERIAL_TIMEOUT_US) _SerialUSB.send_nb(&nl, 1, &n, true);
        if (n == 0) return;
        line_cut = false;
    }
    while (left > 0) {
        uint32_t n = 0;
        _SerialUSB.send_nb(p, left, &n, true);
        p += n;
        left -= n;
        if (left > 0 && micros() - t0 >= KWS_SERIAL_TIMEOUT_US) {
            line_cut = left < len;
            return;
        }
    }
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
    uint32_t total = ring.dropped;  // written by the interrupt; a 32-bit read is atomic
    uint32_t n = total - dropped_reported;
    dropped_reported = total;
    return n;
}

uint32_t kws_port_take_overflows(void) {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

void kws_port_set_led(int on) { digitalWrite(LED_BUILTIN, on ? HIGH : LOW); }

void kws_port_poll(void) {
    const uint32_t now = millis();
    if (mic_running) {
        const uint32_t chunks = pdm_chunks;
        if (chunks != chunks_seen) {
            chunks_seen = chunks;
            last_chunk_ms = now;
        } else if (now - last_chunk_ms > kPdmStallMs) {
            // The driver stopped after an overflow: audio was lost. Report and restart it.
            // If the restart fails, the next poll tries again (and counts again).
            overflows++;
            PDM.end();
            start_mic();
            last_chunk_ms = now;
        }
    }
}
