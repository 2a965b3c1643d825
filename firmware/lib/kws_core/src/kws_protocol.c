/* Protocol v1 encoders and command parser: see kws_protocol.h and docs/protocol.md. */
#include "kws_protocol.h"

#include <string.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} sb_t;

static void sb_char(sb_t *s, char c) {
    if (s->len + 1 < s->cap) {
        s->buf[s->len++] = c;
        s->buf[s->len] = '\0';
    } else {
        s->overflow = 1;
    }
}

static void sb_str(sb_t *s, const char *str) {
    while (str && *str) sb_char(s, *str++);
}

static void sb_u32(sb_t *s, uint32_t v) {
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) sb_char(s, tmp[--n]);
}

/* Non-negative value with `decimals` decimals, rounded half up (values here are scores and rates). */
static void sb_fixed(sb_t *s, float v, int decimals) {
    uint32_t scale = 1;
    for (int i = 0; i < decimals; i++) scale *= 10u;
    if (!(v >= 0.0f)) v = 0.0f; /* also catches NaN */
    if (v > 4.0e6f) v = 4.0e6f;
    uint32_t q = (uint32_t)(v * (float)scale + 0.5f);
    sb_u32(s, q / scale);
    sb_char(s, '.');
    uint32_t frac = q % scale;
    for (uint32_t d = scale / 10u; d; d /= 10u) {
        sb_char(s, (char)('0' + frac / d));
        frac %= d;
    }
}

size_t kws_format_fixed3(char *out, size_t cap, float v) {
    sb_t s = {out, cap, 0, 0};
    if (cap) out[0] = '\0';
    sb_fixed(&s, v, 3);
    if (s.overflow) {
        if (cap) out[0] = '\0';
        return 0;
    }
    return s.len;
}

size_t kws_format_threshold(char *out, size_t cap, float v) {
    sb_t s = {out, cap, 0, 0};
    if (cap) out[0] = '\0';
    if (v > 1000.0f) v = 1000.0f; /* v * 10^6 must fit 32 bits; thresholds are at most 1 anyway */
    sb_fixed(&s, v, 6);
    /* Trailing zeros past the third decimal say nothing: "0.800000" -> "0.800", "0.000400" -> "0.0004". */
    size_t keep = 0;
    while (keep < s.len && out[keep] != '.') keep++;
    keep += 4; /* the point and three decimals */
    while (!s.overflow && s.len > keep && out[s.len - 1] == '0') out[--s.len] = '\0';
    if (s.overflow) {
        if (cap) out[0] = '\0';
        return 0;
    }
    return s.len;
}

static void sb_field_str(sb_t *s, const char *key, const char *val) {
    sb_char(s, ' ');
    sb_str(s, key);
    sb_char(s, '=');
    sb_str(s, val);
}

static void sb_field_u32(sb_t *s, const char *key, uint32_t val) {
    sb_char(s, ' ');
    sb_str(s, key);
    sb_char(s, '=');
    sb_u32(s, val);
}

static size_t sb_end(sb_t *s) {
    sb_char(s, '\n');
    if (s->overflow) {
        if (s->cap) s->buf[0] = '\0';
        return 0;
    }
    return s->len;
}

static sb_t sb_begin(char *buf, size_t cap, const char *tag) {
    sb_t s = {buf, cap, 0, 0};
    if (cap) buf[0] = '\0';
    sb_str(&s, tag);
    return s;
}

const char *kws_mode_name(kws_mode_t mode) {
    switch (mode) {
        case KWS_MODE_REC: return "rec";
        case KWS_MODE_IDLE: return "idle";
        default: return "infer";
    }
}

/* The labels field with only the first `keep` labels of a comma-separated list (keep < 0: all). */
static void sb_labels(sb_t *s, const char *csv, int keep) {
    sb_str(s, " labels=");
    if (!csv) return;
    if (keep < 0) {
        sb_str(s, csv);
        return;
    }
    int n = 0;
    for (const char *p = csv; *p && n < keep; p++) {
        if (*p == ',') {
            if (++n == keep) break;
        }
        sb_char(s, *p);
    }
}

static int count_labels(const char *csv) {
    if (!csv || !*csv) return 0;
    int n = 1;
    for (const char *p = csv; *p; p++) n += *p == ',';
    return n;
}

static size_t encode_boot_keeping(char *buf, size_t cap, const char *tag, const kws_identity_t *id, int keep, int cut) {
    sb_t s = sb_begin(buf, cap, tag);
    sb_field_u32(&s, "proto", KWS_PROTOCOL_VERSION);
    sb_field_str(&s, "board", id->board);
    sb_field_str(&s, "fw", id->fw);
    sb_field_str(&s, "model", id->model_hash);
    sb_field_str(&s, "spec", id->spec_hash);
    sb_labels(&s, id->labels_csv, keep);
    sb_field_u32(&s, "arena_used", id->arena_used);
    sb_field_u32(&s, "arena_size", id->arena_size);
    sb_field_str(&s, "mic", id->mic);
    sb_field_u32(&s, "sr", id->sample_rate);
    sb_field_str(&s, "status", id->status);
    if (id->engine) sb_field_str(&s, "engine", id->engine);
    if (id->weights_crc) {
        sb_str(&s, " weights_crc=");
        for (int sh = 28; sh >= 0; sh -= 4) sb_char(&s, "0123456789abcdef"[(id->weights_crc >> sh) & 15u]);
    }
    if (id->reset) sb_field_str(&s, "reset", id->reset);
    if (cut) sb_field_u32(&s, "labels_cut", (uint32_t)cut);
    return sb_end(&s);
}

size_t kws_encode_boot(char *buf, size_t cap, const char *tag, const kws_identity_t *id) {
    size_t n = encode_boot_keeping(buf, cap, tag, id, -1, 0);
    if (n) return n;
    /* Too long (a model with many labels): keep the leading labels that fit and say how many were
     * left out, rather than losing the line that identifies the board. Rare, at boot: a linear
     * search is fine. */
    int total = count_labels(id->labels_csv);
    for (int keep = total - 1; keep >= 0; keep--) {
        n = encode_boot_keeping(buf, cap, tag, id, keep, total - keep);
        if (n) return n;
    }
    return 0;
}

size_t kws_encode_inference(char *buf, size_t cap, uint32_t t_ms, uint32_t feat_us, uint32_t inf_us, uint32_t total_us,
                            const char *top, float score) {
    sb_t s = sb_begin(buf, cap, "INF");
    sb_field_u32(&s, "t_ms", t_ms);
    sb_field_u32(&s, "feat_us", feat_us);
    sb_field_u32(&s, "inf_us", inf_us);
    sb_field_u32(&s, "total_us", total_us);
    sb_field_str(&s, "top", top);
    sb_str(&s, " score=");
    sb_fixed(&s, score, 3);
    return sb_end(&s);
}

size_t kws_encode_detection(char *buf, size_t cap, uint32_t t_ms, const char *label, float score) {
    sb_t s = sb_begin(buf, cap, "DET");
    sb_field_u32(&s, "t_ms", t_ms);
    sb_field_str(&s, "label", label);
    sb_str(&s, " score=");
    sb_fixed(&s, score, 3);
    return sb_end(&s);
}

size_t kws_encode_stats(char *buf, size_t cap, uint32_t t_ms, uint32_t inferences, float rate_hz, uint32_t detections,
                        uint32_t dropped, uint32_t overflows, kws_mode_t mode, uint32_t skipped, uint32_t tx_dropped) {
    sb_t s = sb_begin(buf, cap, "STAT");
    sb_field_u32(&s, "t_ms", t_ms);
    sb_field_u32(&s, "inferences", inferences);
    sb_str(&s, " rate_hz=");
    sb_fixed(&s, rate_hz, 1);
    sb_field_u32(&s, "detections", detections);
    sb_field_u32(&s, "dropped", dropped);
    sb_field_u32(&s, "overflows", overflows);
    sb_field_str(&s, "mode", kws_mode_name(mode));
    sb_field_u32(&s, "skipped", skipped);
    sb_field_u32(&s, "tx_dropped", tx_dropped);
    return sb_end(&s);
}

uint32_t kws_crc32(const uint8_t *data, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

size_t kws_base64(const uint8_t *data, size_t n, char *out, size_t cap) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = 4 * ((n + 2) / 3);
    if (need + 1 > cap) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = (i + 1 < n) ? abc[(v >> 6) & 63] : '=';
        out[o++] = (i + 2 < n) ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

size_t kws_encode_audio(char *buf, size_t cap, uint32_t seq, const int16_t *samples, size_t n) {
    /* Little-endian bytes regardless of the CPU's byte order. */
    uint8_t bytes[2 * KWS_AUDIO_CHUNK];
    if (n > KWS_AUDIO_CHUNK) return 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t u = (uint16_t)samples[i];
        bytes[2 * i] = (uint8_t)(u & 0xFFu);
        bytes[2 * i + 1] = (uint8_t)(u >> 8);
    }
    sb_t s = sb_begin(buf, cap, "AUD");
    sb_field_u32(&s, "seq", seq);
    sb_field_u32(&s, "n", (uint32_t)n);
    uint32_t crc = kws_crc32(bytes, 2 * n);
    sb_str(&s, " crc=");
    for (int sh = 28; sh >= 0; sh -= 4) sb_char(&s, "0123456789abcdef"[(crc >> sh) & 15u]);
    sb_str(&s, " data=");
    if (s.overflow || s.len >= cap) return sb_end(&s);
    size_t w = kws_base64(bytes, 2 * n, s.buf + s.len, s.cap - s.len - 1);
    if (w == 0 && n > 0) s.overflow = 1;
    s.len += w;
    return sb_end(&s);
}

size_t kws_encode_ack(char *buf, size_t cap, const char *cmd, const char *value) {
    sb_t s = sb_begin(buf, cap, "ACK");
    sb_field_str(&s, "cmd", cmd);
    sb_field_str(&s, "value", value);
    return sb_end(&s);
}

size_t kws_encode_error(char *buf, size_t cap, const char *code, const char *msg) {
    sb_t s = sb_begin(buf, cap, "ERR");
    sb_field_str(&s, "code", code);
    sb_str(&s, " msg=");
    /* Keep the message on one line. */
    for (const char *p = msg; p && *p; p++) sb_char(&s, (*p == '\n' || *p == '\r') ? ' ' : *p);
    return sb_end(&s);
}

static const char *skip_spaces(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* Word at p equals w, followed by space or end. */
static int word_is(const char *p, const char *w) {
    size_t n = strlen(w);
    return strncmp(p, w, n) == 0 && (p[n] == '\0' || p[n] == ' ' || p[n] == '\t' || p[n] == '\r' || p[n] == '\n');
}

static int line_end(const char *p) {
    p = skip_spaces(p);
    return *p == '\0' || *p == '\r' || *p == '\n';
}

/* Strict decimal in (0, 1]: digits, optional '.', digits. */
static int parse_unit_float(const char *p, float *out) {
    float v = 0.0f, scale = 1.0f;
    int digits = 0, dot = 0;
    for (; *p && *p != '\r' && *p != '\n' && *p != ' '; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
        } else if (*p >= '0' && *p <= '9') {
            if (dot) {
                scale *= 0.1f;
                v += (float)(*p - '0') * scale;
            } else {
                v = v * 10.0f + (float)(*p - '0');
            }
            digits++;
        } else {
            return -1;
        }
    }
    if (!digits || !line_end(p)) return -1;
    /* Below 0.0000005 the ACK (6 decimals) would read 0: refuse rather than claim a threshold of 0. */
    if (!(v >= 0.0000005f && v <= 1.0f)) return -1;
    *out = v;
    return 0;
}

kws_command_t kws_parse_command(const char *line) {
    kws_command_t c = {KWS_CMD_NONE, KWS_MODE_INFER, 0.0f};
    const char *p = skip_spaces(line);
    if (line_end(p)) return c;
    if (word_is(p, "info")) {
        c.kind = line_end(p + 4) ? KWS_CMD_INFO : KWS_CMD_BAD_ARG;
    } else if (word_is(p, "rec")) {
        const char *a = skip_spaces(p + 3);
        if (word_is(a, "start") && line_end(a + 5)) c.kind = KWS_CMD_REC_START;
        else if (word_is(a, "stop") && line_end(a + 4)) c.kind = KWS_CMD_REC_STOP;
        else c.kind = KWS_CMD_BAD_ARG;
    } else if (word_is(p, "mode")) {
        const char *a = skip_spaces(p + 4);
        c.kind = KWS_CMD_MODE;
        if (word_is(a, "infer") && line_end(a + 5)) c.mode = KWS_MODE_INFER;
        else if (word_is(a, "idle") && line_end(a + 4)) c.mode = KWS_MODE_IDLE;
        else c.kind = KWS_CMD_BAD_ARG;
    } else if (word_is(p, "thr")) {
        c.kind = parse_unit_float(skip_spaces(p + 3), &c.threshold) == 0 ? KWS_CMD_THRESHOLD : KWS_CMD_BAD_ARG;
    } else {
        c.kind = KWS_CMD_BAD;
    }
    return c;
}
