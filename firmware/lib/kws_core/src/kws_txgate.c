/* The serial write policy (whole lines, bounded waits, counted drops): see kws_txgate.h. */
#include "kws_txgate.h"

#include <string.h>

void kws_txgate_init(kws_txgate_t *g, kws_txgate_send_fn send, kws_txgate_clock_fn micros, void *ctx,
                     uint32_t stall_us, uint32_t max_us) {
    memset(g, 0, sizeof(*g));
    g->send = send;
    g->micros = micros;
    g->ctx = ctx;
    g->stall_us = stall_us;
    g->max_us = max_us;
}

void kws_txgate_reset(kws_txgate_t *g) {
    g->tail_len = g->tail_pos = 0;
    g->stalled = 0;
}

uint32_t kws_txgate_take_dropped(kws_txgate_t *g) {
    uint32_t n = g->dropped;
    g->dropped = 0;
    return n;
}

/* Offer data to the driver without waiting: as many calls as it keeps taking bytes (a USB driver
 * takes one packet per call, a UART all or nothing). Returns the bytes taken. */
static size_t push_now(kws_txgate_t *g, const char *data, size_t len) {
    size_t done = 0;
    while (done < len) {
        size_t n = g->send(g->ctx, data + done, len - done);
        if (n == 0) break;
        done += n > len - done ? len - done : n;
    }
    return done;
}

int kws_txgate_poll(kws_txgate_t *g) {
    if (g->tail_pos < g->tail_len) g->tail_pos += push_now(g, g->tail + g->tail_pos, g->tail_len - g->tail_pos);
    if (g->tail_pos >= g->tail_len) {
        g->tail_len = g->tail_pos = 0;
        return 0;
    }
    return 1;
}

int kws_txgate_write(kws_txgate_t *g, const char *line, size_t len) {
    if (len == 0) return 1;
    /* A line still finishing: the host has not taken it yet, so this one cannot go whole. */
    if (kws_txgate_poll(g)) {
        g->dropped++;
        return 0;
    }
    size_t done = 0;
    if (g->stalled) {
        /* The driver took nothing last time: one attempt, no waiting, until it takes bytes again. */
        done = push_now(g, line, len);
        if (done == 0) {
            g->dropped++;
            return 0;
        }
        g->stalled = 0;
    }
    uint32_t t0 = g->micros(g->ctx), last = t0;
    while (done < len) {
        size_t n = push_now(g, line + done, len - done);
        uint32_t now = g->micros(g->ctx);
        if (n) {
            done += n;
            last = now;
            continue;
        }
        /* Unsigned differences: correct across the clock's wrap. */
        if (now - last >= g->stall_us || now - t0 >= g->max_us) break;
    }
    if (done == len) return 1;
    if (done == 0) {
        g->stalled = 1;
        g->dropped++;
        return 0;
    }
    /* Part of the line went out: keep the rest so the host still gets a whole line. */
    g->tail_len = len - done;
    if (g->tail_len > sizeof(g->tail)) g->tail_len = sizeof(g->tail); /* lines are at most KWS_LINE_MAX */
    memcpy(g->tail, line + done, g->tail_len);
    g->tail_pos = 0;
    return 1;
}
