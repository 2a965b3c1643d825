/*
 * tflm_engine.h - the int8 model on TensorFlow Lite Micro.
 *
 * kws_engine_begin loads kws_model_data, registers exactly the ops the export
 * listed (KWS_MODEL_OPS), allocates a KWS_MODEL_ARENA_BYTES arena and checks the
 * input/output shapes against the feature spec and labels. On failure it returns
 * false with *error set to a protocol code ("model_version", "op_missing",
 * "arena", "bad_arg") and *detail to a message for the ERR line.
 * kws_engine_invoke copies the int8 input in, runs the model and copies the
 * int8 scores out; 0 on success.
 */
#ifndef KWS_TFLM_ENGINE_H
#define KWS_TFLM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

bool kws_engine_begin(const char **error, const char **detail);
size_t kws_engine_arena_used();
int kws_engine_invoke(const int8_t *input, int8_t *output);

#endif
