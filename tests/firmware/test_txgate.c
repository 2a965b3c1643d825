/* Host test of kws_txgate: a fake serial driver (packets of 64 bytes, a host that reads or not) and a fake
 * clock. Whole lines only, a bounded wait once per stall, every dropped line counted. Run by test_core_units.py. */
#include <stdio.h>
#include <string.h>
#include "kws_txgate.h"

static uint32_t now_us;
static int host_reading = 1;
static int packets_left = -1;   /* the host stops after this many packets (-1: never) */
static int all_or_nothing;      /* a UART-like driver: takes a line whole or nothing */
static size_t uart_room;
static char wire[1 << 16];      /* what reached the host */
static size_t wire_len;

static size_t fake_send(void *ctx, const char *data, size_t len) {
    (void)ctx;
    if (all_or_nothing) {
        if (len > uart_room) return 0;
        memcpy(wire + wire_len, data, len);
        wire_len += len;
        uart_room -= len;
        return len;
    }
    now_us += 10; /* each call costs a little */
    if (!host_reading || packets_left == 0) return 0;
    if (packets_left > 0) packets_left--;
    size_t n = len < 64 ? len : 64;
    memcpy(wire + wire_len, data, n);
    wire_len += n;
    return n;
}

static uint32_t fake_micros(void *ctx) {
    (void)ctx;
    now_us += 1;
    return now_us;
}

/* Every line on the wire is whole: "L<n> xxxx...\n" with the right length. */
static int wire_is_whole_lines(int *count) {
    size_t i = 0;
    *count = 0;
    while (i < wire_len) {
        const char *nl = memchr(wire + i, '\n', wire_len - i);
        if (!nl) return 0;
        size_t len = (size_t)(nl - (wire + i)) + 1;
        if (wire[i] != 'L' || len != 200) return 0;
        i += len;
        (*count)++;
    }
    return 1;
}

static void make_line(char *buf, int n) {
    memset(buf, 'x', 200);
    sprintf(buf, "L%d ", n);
    buf[strlen(buf)] = 'x';
    buf[199] = '\n';
}

int main(void) {
    static kws_txgate_t g;
    char line[200];
    kws_txgate_init(&g, fake_send, fake_micros, NULL, 3000, 20000);
    /* A reading host: every line goes, nothing dropped. */
    for (int i = 0; i < 10; i++) {
        make_line(line, i);
        if (!kws_txgate_write(&g, line, sizeof(line))) return 1;
    }
    int count;
    if (!wire_is_whole_lines(&count) || count != 10 || kws_txgate_take_dropped(&g) != 0) return 2;
    /* The host stops reading mid-line: the gate waits stall_us once, keeps the rest of that line. */
    host_reading = 0;
    uint32_t t0 = now_us;
    make_line(line, 10);
    kws_txgate_write(&g, line, sizeof(line)); /* nothing goes: dropped whole, stalled */
    uint32_t waited = now_us - t0;
    if (waited < 3000 || waited > 3500) return 3;
    /* Every further line: one attempt, no waiting, dropped whole and counted. */
    t0 = now_us;
    for (int i = 11; i < 100; i++) {
        make_line(line, i);
        if (kws_txgate_write(&g, line, sizeof(line))) return 4;
    }
    if (now_us - t0 > 89 * 20) return 5;
    if (kws_txgate_take_dropped(&g) != 90) return 6;
    /* The host reads again: lines flow, still whole. */
    host_reading = 1;
    make_line(line, 100);
    if (!kws_txgate_write(&g, line, sizeof(line))) return 7;
    if (!wire_is_whole_lines(&count) || count != 11) return 8;
    /* Stall part-way through a line: the rest is kept (the tail), new lines are dropped while it is
     * pending, and the tail finishes (kws_txgate_poll) once the host reads: the wire stays whole lines. */
    {
        static kws_txgate_t h;
        kws_txgate_init(&h, fake_send, fake_micros, NULL, 3000, 20000);
        make_line(line, 200);
        host_reading = 1;
        packets_left = 1; /* one packet goes, then the host stops reading */
        t0 = now_us;
        if (!kws_txgate_write(&h, line, sizeof(line))) return 9; /* not dropped: it will finish */
        if (h.tail_len != sizeof(line) - 64 || now_us - t0 < 3000 || now_us - t0 > 3500) return 9;
        host_reading = 0;
        packets_left = -1;
        make_line(line, 201);
        if (kws_txgate_write(&h, line, sizeof(line))) return 10; /* dropped whole while the tail waits */
        if (kws_txgate_poll(&h) != 1) return 11;
        host_reading = 1;
        while (kws_txgate_poll(&h)) {
        }
        if (!wire_is_whole_lines(&count) || count != 12 || kws_txgate_take_dropped(&h) != 1) return 12;
    }
    /* A UART: all or nothing, no waiting (stall_us 0): drops whole lines when the buffer is full. */
    {
        static kws_txgate_t u;
        all_or_nothing = 1;
        uart_room = 450;
        kws_txgate_init(&u, fake_send, fake_micros, NULL, 0, 0);
        int sent = 0;
        for (int i = 0; i < 5; i++) {
            make_line(line, 300 + i);
            sent += kws_txgate_write(&u, line, sizeof(line));
        }
        if (sent != 2 || kws_txgate_take_dropped(&u) != 3) return 13;
        uart_room = 1000; /* drained at the baud rate */
        make_line(line, 305);
        if (!kws_txgate_write(&u, line, sizeof(line))) return 14;
        if (!wire_is_whole_lines(&count) || count != 15) return 15;
    }
    printf("ok\n");
    return 0;
}
