/*
 * kws_ring.h - single-producer / single-consumer ring buffer of int16 samples.
 *
 * Contract: one writer (the microphone interrupt or DMA callback) calls
 * kws_ring_write, one reader (the main loop) calls kws_ring_take_gap and
 * kws_ring_read; no locks. Each field is written by one side only. Capacity is
 * KWS_RING_SIZE - 1 samples (a power of two).
 *
 * Gaps: when the writer finds the buffer full it drops the new samples, counts
 * them and notes where the audio became discontinuous (the head at that
 * moment). Until the reader acknowledges that with kws_ring_take_gap,
 * kws_ring_read stops at the (first) gap, so no read ever joins audio from both
 * sides of one. kws_ring_take_gap discards what is still queued before the
 * (latest) gap - stale audio the application could only splice onto what
 * follows - and returns dropped + discarded: the application restarts its
 * features there and advances its audio clock by that many samples.
 *
 * Ordering: the writer's sample stores must be visible before the head store
 * that publishes them, and the reader must finish reading samples before the
 * tail store that hands the slots back. `volatile` alone orders neither the
 * plain data stores nor, on a multi-core part, the hardware. C11 <stdatomic.h>
 * would, but this header is also included by C++ ports compiled as gnu++11 /
 * gnu++14 with GCC 7, where <stdatomic.h> does not compile, and <atomic> is not
 * C. GCC's (and clang's) __atomic builtins work in both languages: acquire
 * loads and release stores of the indices give exactly the ordering needed (a
 * `dmb` on Cortex-M, `memw` on Xtensa) and nothing more.
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

#define KWS_RING_MASK (KWS_RING_SIZE - 1u)

typedef struct {
    int16_t data[KWS_RING_SIZE];
    uint32_t head;         /* producer: next slot to write (release) */
    uint32_t dropped;      /* producer: samples that did not fit, since start (release) */
    uint32_t first_gap;    /* producer: head at the first drop the reader has not acknowledged */
    uint32_t last_gap;     /* producer: head at the latest drop */
    uint32_t tail;         /* consumer: next slot to read (release) */
    uint32_t dropped_seen; /* consumer: `dropped` at its last kws_ring_take_gap */
} kws_ring_t;

/* Samples waiting to be read (a snapshot: the producer may add more meanwhile). */
static inline size_t kws_ring_available(const kws_ring_t *r) {
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    return (size_t)((head - tail) & KWS_RING_MASK);
}

/* Producer side (or the main loop while the producer is stopped, e.g. a driver being restarted):
 * `lost` samples never reached the ring; the audio is discontinuous at the current head. */
static inline void kws_ring_note_gap(kws_ring_t *r, uint32_t lost) {
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    uint32_t d = __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
    /* A gap the reader already knows about stays the first: reads must not pass it. */
    if (d == __atomic_load_n(&r->dropped_seen, __ATOMIC_ACQUIRE)) __atomic_store_n(&r->first_gap, head, __ATOMIC_RELAXED);
    __atomic_store_n(&r->last_gap, head, __ATOMIC_RELAXED);
    /* The count last, with release: a reader that sees it sees the gap positions that go with it. */
    __atomic_store_n(&r->dropped, d + (lost ? lost : 1u), __ATOMIC_RELEASE);
}

/* Producer: copy up to n samples in, drop (count, note the gap) what does not fit; returns how many went in. */
static inline size_t kws_ring_write(kws_ring_t *r, const int16_t *src, size_t n) {
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    /* Acquire: the consumer's reads of the slots it released are done before we overwrite them. */
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    size_t room = (size_t)((tail - head - 1u) & KWS_RING_MASK);
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++) r->data[(head + i) & KWS_RING_MASK] = src[i];
    /* Release: the samples above are visible before the consumer can see the new head. */
    __atomic_store_n(&r->head, (head + (uint32_t)k) & KWS_RING_MASK, __ATOMIC_RELEASE);
    if (k < n) kws_ring_note_gap(r, (uint32_t)(n - k));
    return k;
}

/* Consumer: if samples were lost since the last call, discard the queued samples before the latest
 * gap and return how many were lost in all (dropped + discarded); 0 while the audio is continuous.
 * Call it before kws_ring_read: the next sample read is then the first one after the gap. */
static inline uint32_t kws_ring_take_gap(kws_ring_t *r) {
    uint32_t d = __atomic_load_n(&r->dropped, __ATOMIC_ACQUIRE);
    if (d == r->dropped_seen) return 0;
    uint32_t lost = d - r->dropped_seen;
    __atomic_store_n(&r->dropped_seen, d, __ATOMIC_RELEASE);
    /* Reads stopped at the first gap, so the latest one lies between tail and head. If the producer
     * drops again from here on, the next call returns that (a second, harmless restart). */
    uint32_t gap = __atomic_load_n(&r->last_gap, __ATOMIC_RELAXED);
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    uint32_t discard = (gap - tail) & KWS_RING_MASK;
    __atomic_store_n(&r->tail, gap, __ATOMIC_RELEASE);
    return lost + discard;
}

/* Consumer: copy up to max samples out, never past a gap not yet taken; returns how many. */
static inline size_t kws_ring_read(kws_ring_t *r, int16_t *dst, size_t max) {
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    /* Acquire: pairs with the producer's release, so the samples up to head are complete. */
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    size_t avail = (size_t)((head - tail) & KWS_RING_MASK);
    /* After head: a drop noted since then lies at or beyond the head we read. */
    if (__atomic_load_n(&r->dropped, __ATOMIC_ACQUIRE) != r->dropped_seen) {
        size_t to_gap = (size_t)((__atomic_load_n(&r->first_gap, __ATOMIC_RELAXED) - tail) & KWS_RING_MASK);
        if (to_gap < avail) avail = to_gap;
    }
    size_t k = max < avail ? max : avail;
    for (size_t i = 0; i < k; i++) dst[i] = r->data[(tail + i) & KWS_RING_MASK];
    /* Release: the reads above are done before the producer may reuse these slots. */
    __atomic_store_n(&r->tail, (tail + (uint32_t)k) & KWS_RING_MASK, __ATOMIC_RELEASE);
    return k;
}

/* Samples dropped since start (wraps at 2^32; take differences). */
static inline uint32_t kws_ring_dropped(const kws_ring_t *r) {
    return __atomic_load_n(&r->dropped, __ATOMIC_ACQUIRE);
}

#endif
