/*
 * tflm_engine.h - the int8 keyword model on TensorFlow Lite Micro.
 *
 * kws_engine_begin loads kws_model_data, checks its schema version, registers
 * exactly the ops the export listed (KWS_MODEL_OPS), checks that every op the
 * model uses is registered, allocates the KWS_MODEL_ARENA_BYTES arena and checks
 * the input/output tensors against the feature spec and the labels. On failure
 * it returns false with *error set to a protocol error code (docs/protocol.md:
 * "model_version", "op_missing", "arena", "bad_arg") and *detail to a short
 * message for the ERR line; the application then keeps running without
 * inference (it reports, it does not hang).
 *
 * kws_engine_invoke copies the int8 input [KWS_N_FRAMES * KWS_N_MFCC] in, runs
 * Invoke() and copies the int8 scores [KWS_MODEL_NUM_LABELS] out; returns 0 on
 * success. The application times the call (INF inf_us).
 */
#ifndef KWS_TFLM_ENGINE_H
#define KWS_TFLM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

bool kws_engine_begin(const char **error, const char **detail);
/* Bytes of the arena the interpreter used after AllocateTensors(); 0 if allocation failed. */
size_t kws_engine_arena_used();
int kws_engine_invoke(const int8_t *input, int8_t *output);

#endif
