/* Host test of kws_ring.h: order preserved, capacity SIZE-1, overflow counted. Built and run by test_ring.py. */
#define KWS_RING_SIZE 16u
#include <stdio.h>
#include "kws_ring.h"

int main(void) {
    static kws_ring_t r;
    int16_t in[40], out[40];
    for (int i = 0; i < 40; i++) in[i] = (int16_t)(i * 100 - 1000);
    size_t w = kws_ring_write(&r, in, 10);
    size_t g = kws_ring_read(&r, out, 4);
    if (w != 10 || g != 4 || out[0] != in[0] || out[3] != in[3]) return 1;
    w = kws_ring_write(&r, in + 10, 20); /* 6 held, room 9: 11 dropped */
    if (w != 9 || r.dropped != 11 || kws_ring_available(&r) != 15) return 2;
    g = kws_ring_read(&r, out, 40);
    if (g != 15 || out[0] != in[4] || out[5] != in[9] || out[6] != in[10] || out[14] != in[18]) return 3;
    if (kws_ring_read(&r, out, 5) != 0) return 4;
    printf("ok\n");
    return 0;
}
