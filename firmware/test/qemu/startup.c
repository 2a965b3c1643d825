/*
 * Minimal Cortex-M4F start-up for the QEMU self-test (qemu-system-arm -M mps2-an386).
 * Vector table, FPU on, .data/.bss set up, semihosting for printf, then main() and exit().
 */
#include <stdint.h>
#include <stdlib.h>

extern int main(void);
extern void initialise_monitor_handles(void);
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void Reset_Handler(void);
void Default_Handler(void);

__attribute__((section(".isr_vector"), used)) const void *vectors[16] = {
    &_estack, (void *)Reset_Handler, (void *)Default_Handler, (void *)Default_Handler,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler, 0, 0, 0, 0,
    (void *)Default_Handler, (void *)Default_Handler, 0, (void *)Default_Handler, (void *)Default_Handler,
};

void Default_Handler(void) {
    for (;;) {
    }
}

void _init(void) {}
void _fini(void) {}

void Reset_Handler(void) {
    /* CP10 and CP11 full access before any floating point instruction. */
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20);
    __asm volatile("dsb\n isb");
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    initialise_monitor_handles();
    exit(main());
}
