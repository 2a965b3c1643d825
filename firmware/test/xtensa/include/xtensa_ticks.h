/*
 * xtensa_ticks.h - instruction counting for the Xtensa engine image (QEMU -M sim, run with -icount).
 *
 * The counterpart of ../qemu/qemu_ticks.h. QEMU derives CCOUNT from virtual time, and under
 * -icount virtual time advances a fixed amount per instruction, so CCOUNT counts instructions
 * times a constant; qemu_ticks_start() returns the ticks of a loop of 400,000 instructions, from
 * which the host gets the constant (tinykws.boardcode.xtensa). ticks_now() is CCOUNT negated, so
 * that it counts down like SysTick and engine_bench.c's differences read the same; 32 bits wide.
 */
#ifndef XTENSA_TICKS_H
#define XTENSA_TICKS_H

#define QEMU_TICKS_MASK 0xFFFFFFFFu

static inline unsigned ticks_now(void) {
    unsigned c;
    __asm volatile("rsr.ccount %0" : "=a"(c));
    return 0u - c;
}
static inline unsigned ticks_since(unsigned start) { return (start - ticks_now()) & QEMU_TICKS_MASK; }

/* Returns the ticks of 200,000 iterations of a 2-instruction loop (ADDI, BNEZ). */
static inline unsigned qemu_ticks_start(void) {
    unsigned n = 200000;
    const unsigned t = ticks_now();
    __asm volatile("1: addi %0, %0, -1\n\t bnez %0, 1b" : "+a"(n));
    return ticks_since(t);
}

#endif
