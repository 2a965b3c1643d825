/*
 * Stand-in for the TFLM library's umbrella header in the QEMU image (firmware/test/qemu/tflm_bench.cpp).
 *
 * The library's own Chirale_TensorFlowLite.h only pulls in its Arduino peripherals (Arduino.h), which
 * a bare-metal image does not have; firmware/test/qemu/tflm_engine.cpp includes it (for the Arduino
 * IDE's library discovery, when it was a firmware source) and uses nothing from it. This folder comes
 * before the library's src/ on the include path, so tflm_engine.cpp compiles unchanged.
 */
#ifndef TINYKWS_QEMU_CHIRALE_TENSORFLOWLITE_H
#define TINYKWS_QEMU_CHIRALE_TENSORFLOWLITE_H
#endif
