/*
 * qemu_ticks.h - instruction counting for the QEMU images (mps2-an386, run with -icount shift=0).
 *
 * Under -icount shift=0 virtual time advances a fixed amount per instruction, so SysTick (24 bit,
 * counting down from the processor clock) measures instructions. qemu_ticks_start() starts it and
 * returns the ticks a loop of 400,000 instructions takes, which the host uses to turn ticks into
 * instructions (tinykws.boardcode.cross). One measured interval must stay under 2^24 ticks.
 */
#ifndef QEMU_TICKS_H
#define QEMU_TICKS_H

#define QEMU_TICKS_MASK 0xFFFFFFu /* SysTick is 24 bits wide */

#define QEMU_SYST_CSR (*(volatile unsigned *)0xE000E010)
#define QEMU_SYST_RVR (*(volatile unsigned *)0xE000E014)
#define QEMU_SYST_CVR (*(volatile unsigned *)0xE000E018)

static inline unsigned ticks_now(void) { return QEMU_SYST_CVR; }
static inline unsigned ticks_since(unsigned start) { return (start - QEMU_SYST_CVR) & QEMU_TICKS_MASK; } /* counts down */

/* Start SysTick; returns the calibration: ticks for 200,000 iterations of a 2-instruction loop. */
static inline unsigned qemu_ticks_start(void) {
    QEMU_SYST_RVR = 0xFFFFFFu;
    QEMU_SYST_CVR = 0;
    QEMU_SYST_CSR = 5u; /* enable, processor clock, no interrupt */
    unsigned t = ticks_now();
    __asm volatile("mov r0, %0\n1: subs r0, r0, #1\n bne 1b" : : "r"(200000) : "r0", "cc");
    return ticks_since(t);
}

#endif
