/*
 * kws_app_config.h - the application's configuration, from the model folder and the engine.
 *
 * One function fills a kws_app_config_t from the generated headers (kws_model.h: labels,
 * quantization, recognizer settings, hashes; kws_feature_spec.h: the spec) and from the engine
 * (kws_engine.h: its name, RAM, weights CRC). The board (main.cpp) and the Cortex-M4 whole-core
 * self-test image (firmware/test/qemu/app_selftest.c) both call it, so the configuration the
 * emulated run proves is the board's, not a copy of it.
 *
 * status: "ok" or the protocol error code of a start-up fault; engine_ok says whether
 * kws_engine_begin succeeded (the BOOT line then reports the engine's RAM, else 0/0).
 */
#ifndef KWS_APP_CONFIG_H
#define KWS_APP_CONFIG_H

#include <stdbool.h>

#include "kws_app.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when the model was exported for the feature spec this firmware computes. */
bool kws_model_matches_spec(void);
void kws_app_config_from_model(kws_app_config_t *cfg, const char *board, const char *mic, bool engine_ok,
                               const char *status);

#ifdef __cplusplus
}
#endif
#endif
