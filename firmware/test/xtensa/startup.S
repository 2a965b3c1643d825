/*
 * Start-up of the Xtensa engine image on QEMU's "sim" machine (qemu-system-xtensa -M sim -cpu lx106).
 *
 * The simulator loads the ELF (link.ld: all of it in the core's system ROM region at 0x50000000,
 * which QEMU backs with RAM) and resets: the core starts at its reset vector, 0x50000000, whatever
 * the ELF's entry, so a jump to _start sits there. The call0 ABI (the lx106 has no register windows). Stack at the top of RAM, .bss cleared, main(), then the
 * simulator's exit call with main's return value (xt_runtime.c: xt_exit).
 */
    .section .reset.text, "ax"
    .global _reset
_reset:
    j       _start

    .section .text.entry, "ax"
    .global _start
    .align 4
_start:
    movi    a1, _estack
    movi    a2, _sbss
    movi    a3, _ebss
    movi.n  a4, 0
1:  bgeu    a2, a3, 2f
    s32i.n  a4, a2, 0
    addi.n  a2, a2, 4
    j       1b
2:  call0   main
    call0   xt_exit
3:  j       3b
