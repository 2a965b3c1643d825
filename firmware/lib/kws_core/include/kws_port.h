/*
 * kws_port.h - everything a board must supply, in plain C.
 *
 * The portable core (this library) never touches hardware; the application
 * (firmware/app/main.cpp) reaches the board only through the functions below.
 * A port is one folder, firmware/ports/<board>/, whose source file defines
 * every one of them for one board and microphone; platformio.ini compiles
 * exactly one port per environment (build_src_filter). Nothing here is
 * implemented by the core, and no core source includes this header: the host
 * build (tinykws' ctypes library, the QEMU self-test) does not need a port.
 *
 * Rules for every function: return quickly and never block waiting for a host
 * or for audio. The main loop calls them many times a second, from one thread;
 * none is called from an interrupt. Only the port's own interrupt handlers (or
 * DMA callbacks) run in interrupt context, and they only copy audio: into a
 * kws_ring_t (kws_ring.h: one writer, one reader, no locks), count what did not
 * fit, and return. Everything else (restarting a driver, timing) happens in
 * kws_port_poll or the other functions, on the main loop.
 *
 *   kws_port_begin         start serial (wait a little for a host if that helps
 *                          the BOOT line be seen, never forever: a board on a
 *                          battery has no host), the LED (off), the clock and the
 *                          microphone. Returns NULL when all started, else a
 *                          protocol error code (docs/protocol.md), "mic" when the
 *                          microphone did not start; the application reports it
 *                          and keeps running. Called once, before anything else.
 *   kws_port_mic_name      the BOOT line's mic= value ("pdm", "i2s", ...).
 *   kws_port_read_audio    copy up to max 16 kHz mono int16 samples that arrived
 *                          since the last call into buf; returns how many (0 when
 *                          none are ready). Never waits.
 *   kws_port_micros        a free-running 32-bit microsecond clock; wrapping is
 *                          fine (only differences are used), going backwards is not.
 *   kws_port_write_line    send one complete line (len bytes, ending in "\n") if a
 *                          host is listening; drop it whole otherwise or when the
 *                          host stops reading (never half a line). Never blocks
 *                          for long: a few ms, once per stall (kws_txgate.h).
 *   kws_port_read_serial   copy up to max raw bytes the host sent into buf; returns
 *                          how many (0 when none). Never waits. The application
 *                          assembles lines from them (kws_cmdline.h).
 *   kws_port_take_dropped  samples lost since the last call (ring or DMA buffer
 *                          full because the loop fell behind); resets the count.
 *                          The application restarts its features there, so the
 *                          next sample kws_port_read_audio returns must be the
 *                          first one after the gap (kws_ring_take_gap does that).
 *   kws_port_take_overflows  microphone driver overflows since the last call;
 *                          resets the count.
 *   kws_port_take_tx_dropped  whole lines kws_port_write_line dropped since the
 *                          last call because a host had the port open but was
 *                          not reading (lines nobody could read, with no host
 *                          at all, are not counted); resets the count. The
 *                          application reports it as STAT tx_dropped=. Ports
 *                          implement the policy with kws_txgate.h.
 *   kws_port_set_led       switch the user LED on (nonzero) or off. The
 *                          application decides when (a detection lights it).
 *   kws_port_poll          housekeeping, called once per loop: e.g. restart a
 *                          microphone driver that stopped itself (and count that
 *                          as an overflow). May do nothing.
 *   kws_port_idle          sleep until the next interrupt (the microphone's
 *                          buffer, serial, a timer), a few milliseconds at most;
 *                          called when a loop found no new audio, so the CPU
 *                          sleeps for the share of the stride it does not
 *                          compute. May return at once.
 *   kws_port_watchdog_start start the hardware watchdog: the board resets when
 *                          it is not fed for timeout_ms. Called once, after
 *                          setup; it cannot be stopped. A board without one does
 *                          nothing.
 *   kws_port_watchdog_feed restart the watchdog's count. The application feeds
 *                          it once per loop, after a whole step (audio, at most
 *                          one inference, host commands, housekeeping) returned,
 *                          never from an interrupt: a hang anywhere in the loop
 *                          (a driver, USB, the engine) resets the board.
 *   kws_port_reset_reason  why the board last reset, one word for the BOOT
 *                          line's reset=: "power", "pin", "wdt", "soft",
 *                          "lockup", "brownout", "other".
 *
 * KWS_BOARD_NAME (the BOOT line's board=) and KWS_FW_VERSION (fw=) are build
 * flags set in platformio.ini; the defaults below only keep a bare build going.
 *
 * Ports: ports/nano33ble (PDM, DWT cycle counter, native USB serial) and
 * ports/esp32dev (I2S MEMS microphone, esp_timer, UART). See docs/firmware.md.
 */
#ifndef KWS_PORT_H
#define KWS_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifndef KWS_BOARD_NAME
#define KWS_BOARD_NAME "board"
#endif
#ifndef KWS_FW_VERSION
#define KWS_FW_VERSION "0.1.0"
#endif

#ifdef __cplusplus
extern "C" {
#endif

const char *kws_port_begin(void);
const char *kws_port_mic_name(void);
size_t kws_port_read_audio(int16_t *buf, size_t max);
uint32_t kws_port_micros(void);
void kws_port_write_line(const char *line, size_t len);
size_t kws_port_read_serial(char *buf, size_t max);
uint32_t kws_port_take_dropped(void);
uint32_t kws_port_take_overflows(void);
uint32_t kws_port_take_tx_dropped(void);
void kws_port_set_led(int on);
void kws_port_poll(void);
void kws_port_idle(void);
void kws_port_watchdog_start(uint32_t timeout_ms);
void kws_port_watchdog_feed(void);
const char *kws_port_reset_reason(void);

#ifdef __cplusplus
}
#endif
#endif
