/* Host test of kws_dcblock: removes a constant offset, passes a 1 kHz tone within 0.1 dB, is deterministic,
 * and does not overflow at full scale. Run by test_core_units.py. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "kws_dcblock.h"

#define N 32000 /* 2 s at 16 kHz */

static double rms(const int16_t *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / n);
}

int main(void) {
    static int16_t x[N], y[N], z[N];
    kws_dc_block_t f;
    /* A constant offset goes to exactly 0 once settled (time constant 8 ms). */
    for (int i = 0; i < N; i++) x[i] = 1000;
    memcpy(y, x, sizeof(x));
    kws_dc_block_reset(&f);
    kws_dc_block_run(&f, y, N);
    for (int i = N / 2; i < N; i++)
        if (y[i] != 0) return 1;
    /* A 1 kHz tone riding on an offset: the tone's level is kept within 0.1 dB, the offset goes. */
    for (int i = 0; i < N; i++) x[i] = (int16_t)lrint(2000.0 + 10000.0 * sin(2 * M_PI * 1000.0 * i / 16000.0));
    memcpy(y, x, sizeof(x));
    kws_dc_block_reset(&f);
    kws_dc_block_run(&f, y, N);
    double mean = 0;
    for (int i = N / 2; i < N; i++) mean += y[i];
    mean /= N / 2;
    double gain_db = 20 * log10(rms(y + N / 2, N / 2) / (10000.0 / sqrt(2.0)));
    if (fabs(mean) > 1.0 || fabs(gain_db) > 0.1) return 2;
    /* Deterministic, and chunking does not matter: the state carries over. */
    memcpy(z, x, sizeof(x));
    kws_dc_block_reset(&f);
    for (int i = 0; i < N; i += 256) kws_dc_block_run(&f, z + i, 256);
    if (memcmp(y, z, sizeof(y)) != 0) return 3;
    /* Full scale: a square wave between the int16 extremes and a full-scale step saturate, never wrap. */
    for (int i = 0; i < N; i++) x[i] = (i / 8) % 2 ? 32767 : -32768;
    memcpy(y, x, sizeof(x));
    kws_dc_block_reset(&f);
    kws_dc_block_run(&f, y, N);
    for (int i = 1; i < N; i++) {
        /* The output follows the input's sign at each edge: a wrap would flip it. */
        if (x[i] != x[i - 1] && ((x[i] > 0) != (y[i] > 0))) return 4;
    }
    for (int i = 0; i < N; i++) x[i] = i < N / 2 ? -32768 : 32767;
    memcpy(y, x, sizeof(x));
    kws_dc_block_reset(&f);
    kws_dc_block_run(&f, y, N);
    if (y[N / 2] != 32767 || y[N - 1] != 0) return 5;
    printf("ok %.4f dB\n", gain_db);
    return 0;
}
