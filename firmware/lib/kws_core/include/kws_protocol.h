/*
 * kws_protocol.h - serial protocol v1 (docs/protocol.md): line encoders and the command parser.
 *
 * Contract: every encoder writes one complete line ending in "\n" into buf and
 * returns its length, or 0 if it did not fit in cap (nothing useful is written
 * then). The one exception is BOOT/INFO, whose labels list grows with the
 * model: when the whole line does not fit, it lists as many leading labels as
 * fit and says how many it left out (labels_cut=N at the end), so the line is
 * never lost; it returns 0 only if it does not fit even without labels (the
 * application then writes an ERR line). No printf: integers and fixed point
 * are formatted by hand, so this works with newlib-nano and without float
 * printf support.
 * Host commands are parsed from one line (without or with the trailing "\n").
 */
#ifndef KWS_PROTOCOL_H
#define KWS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_PROTOCOL_VERSION 1
#define KWS_LINE_MAX 1024
#define KWS_AUDIO_CHUNK 256

typedef struct {
    const char *board;
    const char *fw;
    const char *model_hash;
    const char *spec_hash;
    const char *labels_csv;
    uint32_t arena_used;
    uint32_t arena_size;
    const char *mic;
    uint32_t sample_rate;
    const char *status;  /* "ok" or an error code */
    /* Appended to the line (protocol: new fields go at the end); a zeroed struct leaves them out. */
    const char *engine;  /* what runs the model: "tflm", "native", ... (NULL: not written) */
    uint32_t weights_crc; /* CRC-32 of the model's weights as the engine holds them (0: not written) */
    const char *reset;    /* why the board last reset: "power", "pin", "wdt", ... (NULL: not written) */
} kws_identity_t;

typedef enum { KWS_MODE_INFER = 0, KWS_MODE_REC = 1, KWS_MODE_IDLE = 2 } kws_mode_t;

typedef enum {
    KWS_CMD_NONE = 0,
    KWS_CMD_INFO,
    KWS_CMD_REC_START,
    KWS_CMD_REC_STOP,
    KWS_CMD_MODE,
    KWS_CMD_THRESHOLD,
    KWS_CMD_BAD,      /* not a command we know */
    KWS_CMD_BAD_ARG   /* a known command with a bad argument */
} kws_command_kind_t;

typedef struct {
    kws_command_kind_t kind;
    kws_mode_t mode;     /* KWS_CMD_MODE */
    float threshold;     /* KWS_CMD_THRESHOLD */
} kws_command_t;

const char *kws_mode_name(kws_mode_t mode);

size_t kws_encode_boot(char *buf, size_t cap, const char *tag, const kws_identity_t *id);  /* tag "BOOT" or "INFO" */
size_t kws_encode_inference(char *buf, size_t cap, uint32_t t_ms, uint32_t feat_us, uint32_t inf_us, uint32_t total_us,
                            const char *top, float score);
size_t kws_encode_detection(char *buf, size_t cap, uint32_t t_ms, const char *label, float score);
size_t kws_encode_stats(char *buf, size_t cap, uint32_t t_ms, uint32_t inferences, float rate_hz, uint32_t detections,
                        uint32_t dropped, uint32_t overflows, kws_mode_t mode, uint32_t skipped, uint32_t tx_dropped);
size_t kws_encode_audio(char *buf, size_t cap, uint32_t seq, const int16_t *samples, size_t n);
size_t kws_encode_ack(char *buf, size_t cap, const char *cmd, const char *value);
size_t kws_encode_error(char *buf, size_t cap, const char *code, const char *msg);

/* A non-negative value with 3 decimals ("0.800"), NUL-terminated; returns its length (0 if no room). */
size_t kws_format_fixed3(char *out, size_t cap, float v);
/* A threshold in (0, 1]: at least 3 decimals, up to 6 as needed ("0.800", "0.0004", "0.123457"), so
 * the ACK shows the value in effect; NUL-terminated; returns its length (0 if no room). */
size_t kws_format_threshold(char *out, size_t cap, float v);

/* Parse one host command line. */
kws_command_t kws_parse_command(const char *line);

/* CRC-32 (IEEE 802.3, as zlib's crc32) and base64 (RFC 4648, padded), exposed for tests. */
uint32_t kws_crc32(const uint8_t *data, size_t n);
size_t kws_base64(const uint8_t *data, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
