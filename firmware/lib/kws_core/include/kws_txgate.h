/*
 * kws_txgate.h - the serial write policy: whole lines or nothing, and never a long wait.
 *
 * Contract: a port owns one kws_txgate_t and sends every protocol line through
 * kws_txgate_write; it supplies `send`, which hands the serial driver as many
 * bytes as it can take right now and returns that count (never waits; taking
 * all or nothing is fine, e.g. a UART that checks its free TX space first),
 * and a microsecond clock.
 *
 * Policy, so that a host that stops reading can never stall the audio loop:
 *   - A line is pushed for as long as the driver keeps taking bytes, but at
 *     most max_us in all, and given up once stall_us pass with no byte taken.
 *   - A line given up part-way is not cut: its unsent rest is kept (the
 *     "tail") and finished later without waiting (kws_txgate_poll, and before
 *     any new line). While a tail is pending, new lines are dropped whole.
 *   - A line given up before any byte went is dropped whole; from then on each
 *     line gets one attempt without waiting, until the driver takes one again.
 * So the host only ever sees whole lines, the loop waits at most max_us once
 * per stall (not once per line), and every line dropped is counted
 * (kws_txgate_take_dropped -> STAT tx_dropped=). The port decides what "no
 * host" means (e.g. USB DTR low) and calls kws_txgate_reset then instead of
 * writing: lines nobody could read are not counted.
 */
#ifndef KWS_TXGATE_H
#define KWS_TXGATE_H

#include <stddef.h>
#include <stdint.h>

#include "kws_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef size_t (*kws_txgate_send_fn)(void *ctx, const char *data, size_t len);
typedef uint32_t (*kws_txgate_clock_fn)(void *ctx);

typedef struct {
    kws_txgate_send_fn send;
    kws_txgate_clock_fn micros;
    void *ctx;
    uint32_t stall_us;       /* give a line up after this long with no byte taken (0: one attempt only) */
    uint32_t max_us;         /* and after this long in all */
    char tail[KWS_LINE_MAX]; /* the unsent rest of a line given up part-way */
    size_t tail_len, tail_pos;
    int stalled;             /* the last line went nowhere: try once, never wait, until the driver takes bytes */
    uint32_t dropped;        /* lines dropped since the last kws_txgate_take_dropped */
} kws_txgate_t;

void kws_txgate_init(kws_txgate_t *g, kws_txgate_send_fn send, kws_txgate_clock_fn micros, void *ctx,
                     uint32_t stall_us, uint32_t max_us);
/* Send one complete line (ending in "\n"), or drop it whole. Returns 1 if it was sent or will
 * finish as the tail, 0 if dropped (and counted). */
int kws_txgate_write(kws_txgate_t *g, const char *line, size_t len);
/* Push the tail without waiting; call once per loop. Returns 1 while some of it is left. */
int kws_txgate_poll(kws_txgate_t *g);
/* The host went away: forget the tail and the stall (nothing is counted). */
void kws_txgate_reset(kws_txgate_t *g);
/* Lines dropped since the last call; the count restarts. */
uint32_t kws_txgate_take_dropped(kws_txgate_t *g);

#ifdef __cplusplus
}
#endif
#endif
