// A TensorFlow Lite Micro engine (firmware/app/kws_engine.h) for the QEMU comparator only
// (tflm_bench.cpp, built by tinykws.boardcode.tflm_cross against a local TFLM copy). The firmware runs
// the native engine alone: no package ships TFLM's sources, so CI could never build this file. It
// is the firmware's former TFLM engine, kept as it was measured (hence the Arduino library include
// and the ESP32 heap arena).
//
// kws_engine_begin loads kws_model_data, checks its schema version, registers exactly the ops the
// export listed (KWS_MODEL_OPS), checks that every op the model uses is registered, allocates the
// KWS_MODEL_ARENA_BYTES arena and checks the input/output tensors against the feature spec and the
// labels. Only the ops the exported model needs are registered (a MicroMutableOpResolver sized by
// the export), and the arena size comes from the export (the host-measured minimum plus a margin),
// so neither can silently drift from the model.
#include "kws_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Chirale_TensorFlowLite.h>

#include "kws_feature_spec.h"
#include "kws_model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"

// On the ESP32 a large static array competes with the static DRAM segment the linker has
// (and can fail the link); an arena above 64 KiB comes from the heap at begin instead.
#if defined(ARDUINO_ARCH_ESP32) && KWS_MODEL_ARENA_BYTES > 65536
#define KWS_ARENA_ON_HEAP 1
#include <esp_heap_caps.h>
#else
#define KWS_ARENA_ON_HEAP 0
#endif

namespace {
#if KWS_ARENA_ON_HEAP
uint8_t *tensor_arena = nullptr;  // 16-byte aligned, inside a heap block 15 bytes larger
#else
alignas(16) uint8_t tensor_arena[KWS_MODEL_ARENA_BYTES];
#endif
tflite::MicroMutableOpResolver<KWS_MODEL_NUM_OPS> resolver;
tflite::MicroInterpreter *interpreter = nullptr;
TfLiteTensor *input = nullptr;
TfLiteTensor *output = nullptr;
char detail_buf[96];

// True when the resolver has every builtin op the model's operator-code table lists; otherwise
// names the first missing one in detail_buf. Checked before AllocateTensors() so that a missing op
// is reported as op_missing, not as an arena failure.
bool all_ops_registered(const tflite::Model *model) {
    const auto *codes = model->operator_codes();
    if (codes == nullptr) return true;
    for (unsigned int i = 0; i < codes->size(); i++) {
        const tflite::BuiltinOperator op = tflite::GetBuiltinCode(codes->Get(i));
        if (resolver.FindOp(op) == nullptr) {
            snprintf(detail_buf, sizeof(detail_buf), "the model needs op %s, which the firmware did not register",
                     tflite::EnumNameBuiltinOperator(op));
            return false;
        }
    }
    return true;
}
}  // namespace

// One Add<Op>() per op of the export's list; a failure means the resolver is full (cannot
// happen: it is sized KWS_MODEL_NUM_OPS by the same export), reported rather than ignored.
#define KWS_REGISTER_OP(name)                          \
    if (resolver.Add##name() != kTfLiteOk) {           \
        *error = "op_missing";                         \
        *detail = "could not register op " #name;      \
        return false;                                  \
    }

bool kws_engine_begin(const char **error, const char **detail) {
    const tflite::Model *model = tflite::GetModel(kws_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        *error = "model_version";
        snprintf(detail_buf, sizeof(detail_buf), "model schema version %u, this TFLM expects %d",
                 (unsigned)model->version(), TFLITE_SCHEMA_VERSION);
        *detail = detail_buf;
        return false;
    }
    KWS_MODEL_OPS(KWS_REGISTER_OP)
    if (!all_ops_registered(model)) {
        *error = "op_missing";
        *detail = detail_buf;
        return false;
    }
#if KWS_ARENA_ON_HEAP
    if (tensor_arena == nullptr) {
        void *block = heap_caps_malloc(KWS_MODEL_ARENA_BYTES + 15, MALLOC_CAP_8BIT);
        if (block == nullptr) {
            *error = "arena";
            snprintf(detail_buf, sizeof(detail_buf), "could not allocate the %u-byte arena from the heap",
                     (unsigned)KWS_MODEL_ARENA_BYTES);
            *detail = detail_buf;
            return false;
        }
        tensor_arena = (uint8_t *)(((uintptr_t)block + 15u) & ~(uintptr_t)15u);
    }
#endif
    static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, KWS_MODEL_ARENA_BYTES);
    if (static_interpreter.AllocateTensors() != kTfLiteOk) {
        *error = "arena";
        snprintf(detail_buf, sizeof(detail_buf), "AllocateTensors() failed in a %u-byte arena: re-export or raise it",
                 (unsigned)KWS_MODEL_ARENA_BYTES);
        *detail = detail_buf;
        return false;
    }
    TfLiteTensor *in = static_interpreter.input(0);
    TfLiteTensor *out = static_interpreter.output(0);
    if (in == nullptr || out == nullptr || in->type != kTfLiteInt8 || out->type != kTfLiteInt8 ||
        in->bytes != (size_t)(KWS_N_FRAMES * KWS_N_MFCC) || out->bytes != (size_t)KWS_MODEL_NUM_LABELS) {
        *error = "bad_arg";
        *detail = "model input/output does not match the feature spec and labels: re-export";
        return false;
    }
    interpreter = &static_interpreter;
    input = in;
    output = out;
    return true;
}

size_t kws_engine_ram_used(void) { return interpreter ? interpreter->arena_used_bytes() : 0; }

size_t kws_engine_ram_reserved(void) { return KWS_MODEL_ARENA_BYTES; }

const char *kws_engine_name(void) { return "tflm"; }

uint32_t kws_engine_weights_crc32(void) { return 0; }

int kws_engine_invoke(const int8_t *in, int8_t *out) {
    if (interpreter == nullptr) return 1;
    memcpy(input->data.int8, in, input->bytes);
    if (interpreter->Invoke() != kTfLiteOk) return 1;
    memcpy(out, output->data.int8, output->bytes);
    return 0;
}
