/*
 * The few platform functions TFLM expects from its target, for the QEMU image.
 *
 * On the board the library's Arduino files supply them (system_setup.cpp: DebugLog over Serial;
 * peripherals/utility_arduino.cpp: the microsecond counter behind tflite::GetCurrentTimeTicks).
 * Those files include Arduino.h and are left out of the QEMU build (tinykws.boardcode.tflm_cross);
 * here DebugLog writes to the host through semihosting and the counter is SysTick's. The image
 * links without the C runtime's start files (-nostartfiles), so __dso_handle, which crtbegin.o
 * defines and a function-local static object with a destructor refers to, is defined here too.
 */
#include <stdint.h>
#include <stdio.h>

#include "tensorflow/lite/micro/debug_log.h"

extern "C" {
void *__dso_handle = nullptr;
}

extern "C" void DebugLog(const char *s) { fputs(s, stdout); }

namespace peripherals {

uint32_t MicrosecondsCounter() {
    /* SysTick counts down from its reload value; the bench image starts it at 0xFFFFFF. */
    return 0xFFFFFFu - (*(volatile uint32_t *)0xE000E018 & 0xFFFFFFu);
}

uint32_t MillisecondsCounter() { return MicrosecondsCounter() / 1000u; }

}  // namespace peripherals
