// Port: Arduino Nano 33 BLE Sense (nRF52840, Arduino mbed core). Implements kws_port.h with the
// PDM microphone, the DWT cycle counter as the clock, the native USB serial and the built-in LED.
//
// On a plain Nano 33 BLE (no microphone) PDM.begin fails and the board reports status=mic instead
// of hanging. The microphone's samples go through the core's DC blocker (kws_dcblock.h) inside the
// PDM interrupt, before the ring, so recordings and features see the same DC-free audio.
//
// Build flags:
//   KWS_MIC_GAIN=<0..80>  the nRF52 PDM gain register (0.5 dB steps: 0 = -20 dB, 40 = 0 dB,
//                         80 = +20 dB); default 20 (-10 dB), the PDM library's own default.
//                         KWS_PDM_GAIN is the older name of the same setting (KWS_MIC_GAIN wins).
//   KWS_SERIAL_STALL_US   a line is given up after this long with no byte taken (default 3000)
//   KWS_SERIAL_TIMEOUT_US and after this long in all (default 20000); kws_txgate.h says what then.
#include <Arduino.h>
#include <PDM.h>

#include "USB/PluggableUSBSerial.h"  // _SerialUSB, the USB CDC object behind Serial (for send_nb)
#include "kws_dcblock.h"
#include "kws_port.h"
#include "kws_ring.h"
#include "kws_txgate.h"

#ifndef KWS_MIC_GAIN
#ifdef KWS_PDM_GAIN
#define KWS_MIC_GAIN KWS_PDM_GAIN
#else
#define KWS_MIC_GAIN 20  // the PDM library's default
#endif
#endif
#if KWS_MIC_GAIN < 0 || KWS_MIC_GAIN > 80
#error "KWS_MIC_GAIN on the Nano 33 BLE is the PDM gain register, 0..80"
#endif
#ifndef KWS_SERIAL_STALL_US
#define KWS_SERIAL_STALL_US 3000u  // a reading host takes a 64-byte USB packet every frame (1 ms)
#endif
#ifndef KWS_SERIAL_TIMEOUT_US
#define KWS_SERIAL_TIMEOUT_US 20000u  // a 1 KB line at one packet per frame takes 16 ms
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
kws_dc_block_t dc_block;  // state of the interrupt's DC blocker (interrupt only, once started)
volatile uint32_t pdm_chunks = 0;

bool mic_running = false;
uint32_t chunks_seen = 0;
uint32_t last_chunk_ms = 0;
uint32_t overflows = 0;
kws_txgate_t tx;  // whole lines or none, bounded waits, counted drops
bool host_was_connected = false;

// Interrupt context: remove DC, copy the chunk into the ring and return; anything slower risks
// the next buffer. A full ring drops the new samples, counts them and notes the gap.
void on_pdm_data() {
    int bytes = PDM.available();
    if (bytes <= 0) return;
    if (bytes > kPdmChunkBytes) bytes = kPdmChunkBytes;
    PDM.read(pdm_chunk, (size_t)bytes);
    kws_dc_block_run(&dc_block, pdm_chunk, (size_t)bytes / 2);
    kws_ring_write(&ring, pdm_chunk, (size_t)bytes / 2);
    pdm_chunks = pdm_chunks + 1;
}

bool start_mic() {
    kws_dc_block_reset(&dc_block);  // the interrupt is not running: nothing else touches it now
    PDM.onReceive(on_pdm_data);
    PDM.setBufferSize(kPdmChunkBytes);
    if (!PDM.begin(1, kSampleRate)) return false;
    PDM.setGain(KWS_MIC_GAIN);
    chunks_seen = pdm_chunks;
    last_chunk_ms = millis();
    return true;
}

// USB CDC takes at most one 64-byte packet per call, and only when the previous one has gone.
size_t usb_send(void *, const char *data, size_t len) {
    uint32_t n = 0;
    _SerialUSB.send_nb(reinterpret_cast<uint8_t *>(const_cast<char *>(data)), (uint32_t)len, &n, true);
    return n;
}

uint32_t tx_micros(void *) { return micros(); }

void enable_cycle_counter() {
    CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;  // the DWT unit is off until trace is enabled
    DWT->CYCCNT = 0;
    DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}
// The nRF52840's instruction cache is off after reset, and mbed's start-up code for this chip
// (system_nrf52840.c, mbed-os 6.17) does not switch it on, unlike its nRF52832 sibling. Without it
// every instruction fetch goes to flash (wait states at 64 MHz): the inference loops pay for each
// fetch. Enabling it is one register write (NVMC ICACHECNF.CACHEEN) and harmless if already on.
void enable_instruction_cache() {
    NRF_NVMC->ICACHECNF |= NVMC_ICACHECNF_CACHEEN_Msk;
    __DSB();
    __ISB();
}
}  // namespace

const char *kws_port_begin(void) {
    // A watchdog still running from before a soft reset (an upload) counts on: feed it before the
    // 3 s wait for a host below. RREN and RR[0] survive that reset with it.
    if (NRF_WDT->RUNSTATUS) NRF_WDT->RR[0] = WDT_RR_RR_Reload;
    enable_instruction_cache();
    Serial.begin(115200);  // USB CDC: the rate is ignored
    kws_txgate_init(&tx, usb_send, tx_micros, nullptr, KWS_SERIAL_STALL_US, KWS_SERIAL_TIMEOUT_US);
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
// terminal is connected (DTR; not counted: nobody could read them), and otherwise hand each line
// to the gate, which pushes it packet by packet with the non-blocking send_nb, waits only while
// the host keeps taking packets, and drops whole lines (counted) while a host that stopped
// reading has not taken the last one yet.
void kws_port_write_line(const char *line, size_t len) {
    bool connected = _SerialUSB.connected();
    if (connected != host_was_connected) {
        kws_txgate_reset(&tx);  // a new host starts at a line boundary; a gone one takes nothing
        host_was_connected = connected;
    }
    if (connected) kws_txgate_write(&tx, line, len);
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

// Also moves the read position to the gap, so kws_port_read_audio resumes right after it.
uint32_t kws_port_take_dropped(void) { return kws_ring_take_gap(&ring); }

uint32_t kws_port_take_overflows(void) {
    uint32_t n = overflows;
    overflows = 0;
    return n;
}

uint32_t kws_port_take_tx_dropped(void) { return kws_txgate_take_dropped(&tx); }

void kws_port_set_led(int on) { digitalWrite(LED_BUILTIN, on ? HIGH : LOW); }

void kws_port_poll(void) {
    if (host_was_connected) kws_txgate_poll(&tx);  // finish a line the host was slow to take
    const uint32_t now = millis();
    if (mic_running) {
        const uint32_t chunks = pdm_chunks;
        if (chunks != chunks_seen) {
            chunks_seen = chunks;
            last_chunk_ms = now;
        } else if (now - last_chunk_ms > kPdmStallMs) {
            // The driver stopped after an overflow: audio was lost. Report and restart it.
            // If the restart fails, the next poll tries again (and counts again). The interrupt
            // is off until start_mic, so the main loop may note the gap in the ring: the samples
            // not delivered since the last chunk are counted as dropped, and the features restart.
            overflows++;
            PDM.end();
            kws_ring_note_gap(&ring, (now - last_chunk_ms) * (uint32_t)(kSampleRate / 1000));
            start_mic();
            last_chunk_ms = now;
        }
    }
}

// A bounded sleep: mbed's delay() puts the thread to sleep for 1 ms and its idle thread waits for an
// interrupt (WFI); the PDM's buffer interrupt, USB and the 1 ms timer wake it. Bounded, so the PDM
// stall check in kws_port_poll still runs when the microphone has stopped interrupting.
void kws_port_idle(void) { delay(1); }

// The nRF52840's WDT counts the 32.768 kHz clock down from CRV and resets the chip at zero unless RR[0]
// is written with the reload value. It keeps counting while the CPU sleeps and pauses while a debugger
// halts it. Once started it cannot be stopped or reconfigured until a power-on, pin or watchdog reset:
// a soft reset leaves it running. An upload is a soft reset into the bootloader (the 1200-baud touch,
// variant.cpp), and the Nano 33 BLE's bootloader does not feed the watchdog, so the timeout here is
// at least a minute: an upload (about 10 s) finishes and the new firmware starts feeding first.
// Started already (by the firmware before the soft reset): kept as it is, and fed from now on.
const uint32_t kMinWatchdogMs = 60000;

void kws_port_watchdog_start(uint32_t timeout_ms) {
    if (NRF_WDT->RUNSTATUS) {
        kws_port_watchdog_feed();
        return;
    }
    if (timeout_ms < kMinWatchdogMs) timeout_ms = kMinWatchdogMs;
    NRF_WDT->CONFIG = (WDT_CONFIG_SLEEP_Run << WDT_CONFIG_SLEEP_Pos) | (WDT_CONFIG_HALT_Pause << WDT_CONFIG_HALT_Pos);
    NRF_WDT->CRV = (uint32_t)((uint64_t)timeout_ms * 32768u / 1000u) - 1u;
    NRF_WDT->RREN = WDT_RREN_RR0_Msk;
    NRF_WDT->TASKS_START = 1;
}

void kws_port_watchdog_feed(void) { NRF_WDT->RR[0] = WDT_RR_RR_Reload; }

// POWER.RESETREAS keeps a bit per reset source until it is written back; none set means a power-on
// (or brown-out) reset. Read once and cleared, so the next reset reports only its own cause.
const char *kws_port_reset_reason(void) {
    static const char *reason = nullptr;
    if (reason) return reason;
    const uint32_t r = NRF_POWER->RESETREAS;
    NRF_POWER->RESETREAS = r;
    if (r & POWER_RESETREAS_DOG_Msk) reason = "wdt";
    else if (r & POWER_RESETREAS_LOCKUP_Msk) reason = "lockup";
    else if (r & POWER_RESETREAS_SREQ_Msk) reason = "soft";
    else if (r & POWER_RESETREAS_RESETPIN_Msk) reason = "pin";
    else if (r == 0) reason = "power";
    else reason = "other";  // wake from System OFF (pin, LPCOMP, NFC, VBUS) or a debugger reset
    return reason;
}
