/*
 * kws_engine.h - the inference engine the application calls: one int8 window in, int8 scores out.
 *
 * The firmware's implementation is native_engine.c: tinykws's own kernels (lib/kws_nn) running the
 * generated kws_net_model.h of the model folder, with no interpreter and a static memory plan. It
 * computes the same scores as TensorFlow Lite Micro bit for bit (the host tests check it against the
 * tflite-micro interpreter). The only other implementation, firmware/test/qemu/tflm_engine.cpp, is
 * the TFLM comparator of the QEMU benchmark, never a firmware source.
 *
 * kws_engine_begin checks the model (and, for the native engine, recomputes the weights' CRC-32
 * over flash) and prepares the engine. On failure it returns false with *error set to a protocol
 * error code (docs/protocol.md: "model_version", "op_missing", "arena", "bad_arg", "weights_crc")
 * and *detail to a short message for the ERR line; the application keeps running without inference.
 *
 * kws_engine_invoke reads KWS_N_FRAMES * KWS_N_MFCC int8 values and writes KWS_MODEL_NUM_LABELS
 * int8 scores; returns 0 on success. kws_engine_ram_used is the RAM the engine's working memory
 * takes (native: activations + scratch; TFLM: the arena bytes used after allocation), 0 before a
 * successful begin; kws_engine_ram_reserved is what the build sets aside for it (native:
 * KWS_NET_RAM_BYTES, the whole static plan; TFLM: the compiled-in arena, KWS_MODEL_ARENA_BYTES).
 * kws_engine_name is "native" (or "tflm"); kws_engine_weights_crc32 is the weights' CRC-32 the
 * native engine checked at boot (0 for TFLM).
 */
#ifndef KWS_ENGINE_H
#define KWS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

bool kws_engine_begin(const char **error, const char **detail);
size_t kws_engine_ram_used(void);
size_t kws_engine_ram_reserved(void);
int kws_engine_invoke(const int8_t *input, int8_t *output);
const char *kws_engine_name(void);
uint32_t kws_engine_weights_crc32(void);

#ifdef __cplusplus
}
#endif

#endif
