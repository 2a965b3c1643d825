/*
 * kws_ring.h - single-producer / single-consumer ring buffer of int16 samples.
 *
 * Contract: one writer (the microphone interrupt or DMA callback) calls
 * kws_ring_write, one reader (the main loop) calls kws_ring_read; no locks are
 * needed on a single-core MCU because each index is written by one side only
 * and is a 32-bit aligned volatile. Capacity is KWS_RING_SIZE - 1 samples
 * (a power of two). When the writer finds the buffer full it drops the new
 * samples and counts them in `dropped`, which the application reports.
 */
#ifndef KWS_RING_H
#define KWS_RING_H

#include <stddef.h>
#include <stdint.h>

#ifndef KWS_RING_SIZE
#define KWS_RING_SIZE 8192u /* 512 ms at 16 kHz */
#endif

#if (KWS_RING_SIZE & (KWS_RING_SIZE - 1u)) != 0
#error "KWS_RING_SIZE must be a power of two"
#endif

typedef struct {
    int16_t data[KWS_RING_SIZE];
    volatile uint32_t head; /* written by the producer */
    volatile uint32_t tail; /* written by the consumer */
    volatile uint32_t dropped;
} kws_ring_t;

static inline size_t kws_ring_available(const kws_ring_t *r) {
    return (size_t)((r->head - r->tail) & (KWS_RING_SIZE - 1u));
}

static inline size_t kws_ring_write(kws_ring_t *r, const int16_t *src, size_t n) {
    uint32_t head = r->head;
    size_t room = (size_t)((r->tail - head - 1u) & (KWS_RING_SIZE - 1u));
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++) r->data[(head + i) & (KWS_RING_SIZE - 1u)] = src[i];
    r->head = (head + (uint32_t)k) & (KWS_RING_SIZE - 1u);
    if (k < n) r->dropped += (uint32_t)(n - k);
    return k;
}

static inline size_t kws_ring_read(kws_ring_t *r, int16_t *dst, size_t max) {
    uint32_t tail = r->tail;
    size_t avail = (size_t)((r->head - tail) & (KWS_RING_SIZE - 1u));
    size_t k = max < avail ? max : avail;
    for (size_t i = 0; i < k; i++) dst[i] = r->data[(tail + i) & (KWS_RING_SIZE - 1u)];
    r->tail = (tail + (uint32_t)k) & (KWS_RING_SIZE - 1u);
    return k;
}

#endif
