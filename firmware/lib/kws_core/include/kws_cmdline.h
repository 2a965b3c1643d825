/*
 * kws_cmdline.h - assembles the host's command lines from raw serial bytes.
 *
 * Contract: feed every byte the host sent (kws_port_read_serial), in order, to
 * kws_cmdline_push. A line ends at "\n"; "\r" is discarded wherever it appears,
 * so "\r\n" and "\n" endings both work (a lone "\r" does not end a line). When a
 * byte completes a line, push returns it NUL-terminated and without its line
 * ending (possibly empty); the pointer stays valid until the next push. Bytes
 * beyond KWS_CMDLINE_MAX in one line are dropped, so an over-long line still
 * arrives as one line, cut short, and the command parser answers it with an
 * ERR line instead of the tail being read as a second command. Fixed size, no
 * allocation, no hardware: the board and the host tests use the same code. A
 * zero-initialized kws_cmdline_t is empty; kws_cmdline_reset empties one.
 */
#ifndef KWS_CMDLINE_H
#define KWS_CMDLINE_H

#include <stddef.h>

#ifndef KWS_CMDLINE_MAX
#define KWS_CMDLINE_MAX 63 /* bytes kept per line; every valid command is far shorter */
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char buf[KWS_CMDLINE_MAX + 1];
    size_t len; /* bytes held of the line being assembled */
} kws_cmdline_t;

void kws_cmdline_reset(kws_cmdline_t *c);
/* Returns the completed line when `byte` is "\n", else NULL. */
const char *kws_cmdline_push(kws_cmdline_t *c, char byte);

#ifdef __cplusplus
}
#endif
#endif
