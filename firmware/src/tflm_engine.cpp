// TFLM glue: see tflm_engine.h. Only the ops the exported model needs are registered,
// and the arena size comes from the export (the host-measured minimum plus a margin).
#include "tflm_engine.h"

#include <string.h>

#include <Chirale_TensorFlowLite.h>

#include "kws_feature_spec.h"
#include "kws_model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
alignas(16) uint8_t tensor_arena[KWS_MODEL_ARENA_BYTES];
tflite::MicroMutableOpResolver<KWS_MODEL_NUM_OPS> resolver;
tflite::MicroInterpreter *interpreter = nullptr;
TfLiteTensor *input = nullptr;
TfLiteTensor *output = nullptr;
}  // namespace

#define KWS_REGISTER_OP(name)                          \
    if (resolver.Add##name() != kTfLiteOk) {           \
        *error = "op_missing";                         \
        *detail = "could not register " #name;         \
        return false;                                  \
    }

bool kws_engine_begin(const char **error, const char **detail) {
    const tflite::Model *model = tflite::GetModel(kws_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        *error = "model_version";
        *detail = "model schema version differs from this TFLM";
        return false;
    }
    KWS_MODEL_OPS(KWS_REGISTER_OP)
    static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, KWS_MODEL_ARENA_BYTES);
    interpreter = &static_interpreter;
    if (interpreter->AllocateTensors() != kTfLiteOk) {
        // A missing op also fails here (TFLM prints the opcode); the export registers every op the model lists.
        *error = "arena";
        *detail = "AllocateTensors() failed: arena too small or an op is missing";
        interpreter = nullptr;
        return false;
    }
    input = interpreter->input(0);
    output = interpreter->output(0);
    if (input->type != kTfLiteInt8 || output->type != kTfLiteInt8 ||
        input->bytes != (size_t)(KWS_N_FRAMES * KWS_N_MFCC) || output->bytes != (size_t)KWS_MODEL_NUM_LABELS) {
        *error = "bad_arg";
        *detail = "model input/output does not match the feature spec and labels";
        interpreter = nullptr;
        return false;
    }
    return true;
}

size_t kws_engine_arena_used() { return interpreter ? interpreter->arena_used_bytes() : 0; }

int kws_engine_invoke(const int8_t *in, int8_t *out) {
    if (!interpreter) return 1;
    memcpy(input->data.int8, in, input->bytes);
    if (interpreter->Invoke() != kTfLiteOk) return 1;
    memcpy(out, output->data.int8, output->bytes);
    return 0;
}
