/*
 * native_engine.c - the firmware's inference engine (kws_engine.h): tinykws's own int8 kernels
 * (lib/kws_nn) running the generated kws_net_model.h of the model folder on the include path
 * (the same folder as kws_model.h; kws_model_data.cpp says how it gets there).
 *
 * At begin it checks that kws_net_model.h was generated from the same model as kws_model.h and
 * that its shapes match the feature spec and the labels, then recomputes the CRC-32 of every
 * weight array in flash and compares it with the one the generator computed: a corrupted flash
 * page or a mismatched build fails loudly ("weights_crc") instead of producing wrong scores.
 *
 * A model with a streaming mode (KWS_NET_STREAMABLE: time convolutions 'valid' with stride 1, a
 * global average pool) runs kws_net_stream_window: only the rows that are new since the previous
 * window are computed, and the scores equal the whole window's bit for bit. A window that shares no
 * rows with the previous one (the first, or after a gap) restarts the state and costs one whole
 * window. -DKWS_ENGINE_WHOLE_WINDOW forces the whole-window path.
 */
#include <stdio.h>
#include <string.h>

#include "kws_engine.h"
#include "kws_feature_spec.h"
#include "kws_model.h"
/* Included here although kws_net_model.h includes it too: PlatformIO's library finder scans the
 * project's sources, not the staged model folder, and this line is what makes it build lib/kws_nn. */
#include "kws_nn.h"
#include "kws_net_model.h"

static bool ready = false;
static uint32_t weights_crc = 0;
static char detail_buf[96];

bool kws_engine_begin(const char **error, const char **detail) {
    if (strcmp(KWS_NET_MODEL_HASH, KWS_MODEL_HASH) != 0) {
        *error = "bad_arg";
        *detail = "kws_net_model.h belongs to another model than kws_model.h: re-export";
        return false;
    }
    if (KWS_NET_INPUT_BYTES != KWS_N_FRAMES * KWS_N_MFCC || KWS_NET_OUTPUT_BYTES != KWS_MODEL_NUM_LABELS) {
        *error = "bad_arg";
        *detail = "model input/output does not match the feature spec and labels: re-export";
        return false;
    }
    weights_crc = kws_net_weights_crc32();
    if (weights_crc != KWS_NET_WEIGHTS_CRC32) {
        *error = "weights_crc";
        snprintf(detail_buf, sizeof(detail_buf), "weights CRC-32 %08lx in flash, %08lx expected: reflash",
                 (unsigned long)weights_crc, (unsigned long)KWS_NET_WEIGHTS_CRC32);
        *detail = detail_buf;
        return false;
    }
    ready = true;
    return true;
}

#if defined(KWS_NET_STREAMABLE) && !defined(KWS_ENGINE_WHOLE_WINDOW)
#define ENGINE_RAM_BYTES KWS_NET_STREAM_RAM_BYTES
#define ENGINE_RUN(in, out) ((void)kws_net_stream_window((in), (out)))
#define ENGINE_NAME "native" /* the BOOT line names the engine, not its mode */
#else
#define ENGINE_RAM_BYTES KWS_NET_RAM_BYTES
#define ENGINE_RUN(in, out) kws_net_invoke((in), (out))
#define ENGINE_NAME "native"
#endif

size_t kws_engine_ram_used(void) { return ready ? (size_t)ENGINE_RAM_BYTES : 0; }

size_t kws_engine_ram_reserved(void) { return (size_t)ENGINE_RAM_BYTES; }

int kws_engine_invoke(const int8_t *input, int8_t *output) {
    if (!ready) return 1;
    ENGINE_RUN(input, output);
    return 0;
}

const char *kws_engine_name(void) { return ENGINE_NAME; }

uint32_t kws_engine_weights_crc32(void) { return weights_crc; }
