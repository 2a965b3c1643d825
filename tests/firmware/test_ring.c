/* Host test of kws_ring.h: order preserved, capacity SIZE-1, overflow counted, reads stop at a gap until
 * it is taken, and taking it discards the stale samples before it. Built and run by test_ring.py. */
#define KWS_RING_SIZE 16u
#include <stdio.h>
#include "kws_ring.h"

int main(void) {
    static kws_ring_t r;
    int16_t in[60], out[60];
    for (int i = 0; i < 60; i++) in[i] = (int16_t)(i * 100 - 1000);
    size_t w = kws_ring_write(&r, in, 10);
    size_t g = kws_ring_read(&r, out, 4);
    if (w != 10 || g != 4 || out[0] != in[0] || out[3] != in[3]) return 1;
    if (kws_ring_take_gap(&r) != 0) return 2; /* nothing lost yet */
    w = kws_ring_write(&r, in + 10, 20); /* 6 held, room 9: in[10..18] kept, 11 dropped, gap after in[18] */
    if (w != 9 || kws_ring_dropped(&r) != 11 || kws_ring_available(&r) != 15) return 3;
    g = kws_ring_read(&r, out, 5); /* before the gap: fine */
    if (g != 5 || out[0] != in[4] || out[4] != in[8]) return 4;
    /* The reader makes room; the producer writes audio from after the gap. */
    w = kws_ring_write(&r, in + 40, 3);
    if (w != 3) return 5;
    /* Reads stop at the gap until it is taken: never join in[18] and in[40]. */
    g = kws_ring_read(&r, out, 40);
    if (g != 10 || out[9] != in[18]) return 6;
    if (kws_ring_read(&r, out, 40) != 0) return 7;
    if (kws_ring_take_gap(&r) != 11) return 8;
    g = kws_ring_read(&r, out, 40);
    if (g != 3 || out[0] != in[40] || out[2] != in[42]) return 9;
    /* A gap with stale audio still queued before it: taking it discards that audio and counts it. */
    kws_ring_write(&r, in, 15);   /* full: 15 held */
    kws_ring_write(&r, in + 20, 4); /* 4 dropped, gap at the head */
    g = kws_ring_read(&r, out, 2);  /* the reader took only 2 before it learnt of the gap */
    if (g != 2 || kws_ring_take_gap(&r) != 4 + 13 || kws_ring_available(&r) != 0) return 10;
    /* A driver restart notes a gap itself (producer stopped). */
    kws_ring_write(&r, in, 3);
    kws_ring_note_gap(&r, 160);
    kws_ring_write(&r, in + 50, 2);
    if (kws_ring_read(&r, out, 10) != 3 || kws_ring_take_gap(&r) != 160) return 11;
    if (kws_ring_read(&r, out, 10) != 2 || out[0] != in[50]) return 12;
    printf("ok\n");
    return 0;
}
