/* Command line assembly: see kws_cmdline.h. */
#include "kws_cmdline.h"

void kws_cmdline_reset(kws_cmdline_t *c) {
    c->len = 0;
    c->buf[0] = '\0';
}

const char *kws_cmdline_push(kws_cmdline_t *c, char byte) {
    if (byte == '\n') {
        c->buf[c->len] = '\0';
        c->len = 0; /* the next byte starts a new line; buf stays readable until then */
        return c->buf;
    }
    if (byte != '\r' && c->len < KWS_CMDLINE_MAX) c->buf[c->len++] = byte;
    return NULL;
}
