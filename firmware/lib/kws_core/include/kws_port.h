/*
 * kws_board.h - what a board port supplies to the application.
 *
 * A port is one .cpp file (board_<name>.cpp) implementing these functions for
 * one board and microphone; main.cpp wires them to the portable core's
 * kws_app. To port tinykws to another board, copy the closest port and change
 * the microphone and clock code; nothing else needs to know.
 *
 *   kws_board_begin     start serial (never block forever waiting for a host),
 *                       the LED, the clock and the microphone; return false
 *                       and set *error to a protocol error code ("mic") if the
 *                       microphone did not start.
 *   kws_board_read_audio  copy up to max int16 samples (16 kHz mono) that the
 *                       microphone delivered since the last call; never blocks.
 *                       An interrupt-driven microphone fills a kws_ring_t from
 *                       its callback (copy and return, nothing else there).
 *   kws_board_micros    free-running microsecond clock (wrapping is fine).
 *   kws_board_write_line  send one line if a host is listening; drop it otherwise,
 *                       never block for long.
 *   kws_board_read_command  assemble host input; true when *line holds a full line.
 *   kws_board_take_dropped / kws_board_take_overflows
 *                       samples lost / driver overflows since the last call.
 *   kws_board_on_detection  the detection hook: lights the LED; put your own action here.
 *   kws_board_poll      called every loop (LED timing, restarting a stalled
 *                       microphone driver and similar housekeeping).
 *
 * Ports in this folder: board_nano33ble.cpp (PDM, DWT clock, USB CDC) and
 * board_esp32.cpp (I2S, esp_timer, UART). platformio.ini's build_src_filter
 * compiles exactly one of them per environment. See docs/firmware.md.
 */
#ifndef KWS_BOARD_H
#define KWS_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifndef KWS_BOARD_NAME
#define KWS_BOARD_NAME "board"
#endif
#ifndef KWS_FW_VERSION
#define KWS_FW_VERSION "0.1.0"
#endif

bool kws_board_begin(const char **error);
const char *kws_board_mic_name();
size_t kws_board_read_audio(int16_t *buf, size_t max);
uint32_t kws_board_micros();
void kws_board_write_line(const char *line, size_t len);
bool kws_board_read_command(char *line, size_t cap);
uint32_t kws_board_take_dropped();
uint32_t kws_board_take_overflows();
void kws_board_on_detection(int label, float score);
void kws_board_poll();

#endif
