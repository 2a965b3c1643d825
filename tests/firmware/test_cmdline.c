/* Host test of kws_cmdline (the board's command line assembly): line endings, empty and over-long lines,
 * lines split across reads and several lines in one read; over-long lines checked through the real parser.
 * Built and run by test_cmdline.py. Prints "ok", or the first failing case and exits nonzero. */
#include <stdio.h>
#include <string.h>

#include "kws_cmdline.h"
#include "kws_protocol.h"

#define MAX_LINES 8

static kws_cmdline_t cmd;
static char lines[MAX_LINES][KWS_CMDLINE_MAX + 2];
static int n_lines;

/* Feed one read's worth of bytes, collecting every completed line. */
static void feed(const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *line = kws_cmdline_push(&cmd, bytes[i]);
        if (line == NULL) continue;
        if (n_lines < MAX_LINES) {
            size_t k = strlen(line);
            if (k > KWS_CMDLINE_MAX) k = KWS_CMDLINE_MAX + 1; /* longer than allowed: kept long so the check fails */
            memcpy(lines[n_lines], line, k);
            lines[n_lines][k] = '\0';
        }
        n_lines++;
    }
}

static void feed_str(const char *s) { feed(s, strlen(s)); }

static int failures;

/* The lines completed so far must be exactly `want` (n_want of them). */
static void expect(const char *name, const char *const *want, int n_want) {
    int ok = n_lines == n_want;
    for (int i = 0; ok && i < n_want; i++) ok = strcmp(lines[i], want[i]) == 0;
    if (!ok) {
        printf("FAIL %s: got %d line(s):", name, n_lines);
        for (int i = 0; i < n_lines && i < MAX_LINES; i++) printf(" [%s]", lines[i]);
        printf("\n");
        failures++;
    }
    n_lines = 0;
}

static void check(const char *name, int cond) {
    if (!cond) {
        printf("FAIL %s\n", name);
        failures++;
    }
}

int main(void) {
    char longest[KWS_CMDLINE_MAX + 1], over[200];

    feed_str("info\n");
    expect("LF", (const char *const[]){"info"}, 1);

    feed_str("mode idle\r\n");
    expect("CRLF", (const char *const[]){"mode idle"}, 1);

    feed_str("info\r");
    expect("a lone CR does not end a line", NULL, 0);
    feed_str("\n");
    expect("CR then LF in the next read", (const char *const[]){"info"}, 1);

    feed_str("in\rfo\r\r\n");
    expect("CR is dropped wherever it is", (const char *const[]){"info"}, 1);

    feed_str("\n\r\n");
    expect("empty lines", (const char *const[]){"", ""}, 2);

    feed_str("th");
    feed_str("r 0.");
    expect("no line before the newline", NULL, 0);
    feed_str("5");
    feed_str("\r");
    feed_str("\n");
    expect("a line split across reads", (const char *const[]){"thr 0.5"}, 1);

    feed_str("info\nrec start\r\nmode infer\n");
    expect("several lines in one read", (const char *const[]){"info", "rec start", "mode infer"}, 3);

    feed("x\0y\n", 4);
    check("a NUL byte is kept as a byte (the line reads as \"x\")", n_lines == 1 && strcmp(lines[0], "x") == 0);
    n_lines = 0;

    memset(longest, 'a', KWS_CMDLINE_MAX);
    longest[KWS_CMDLINE_MAX] = '\0';
    feed_str(longest);
    feed_str("\n");
    expect("a line of exactly KWS_CMDLINE_MAX bytes is kept whole", (const char *const[]){longest}, 1);

    /* 199 bytes, then the newline: the first KWS_CMDLINE_MAX are kept, the rest dropped, and the next line
     * starts clean. "info" at the start must not make the cut line a valid command. */
    memset(over, 'z', sizeof(over));
    memcpy(over, "info", 4);
    over[sizeof(over) - 1] = '\0';
    feed_str(over);
    feed_str("\r\ninfo\n");
    char cut[KWS_CMDLINE_MAX + 1];
    memcpy(cut, over, KWS_CMDLINE_MAX);
    cut[KWS_CMDLINE_MAX] = '\0';
    expect("an over-long line is cut, the next one is whole", (const char *const[]){cut, "info"}, 2);

    /* Through the real parser: an over-long unknown command is one ERR bad_cmd, not two commands. */
    memset(over, 'q', sizeof(over));
    over[sizeof(over) - 1] = '\0';
    memcpy(over + KWS_CMDLINE_MAX, "info", 4); /* would parse as "info" if the tail became its own line */
    feed_str(over);
    feed_str("\n");
    check("an over-long line is one line", n_lines == 1);
    check("an over-long unknown command parses as KWS_CMD_BAD",
          n_lines == 1 && kws_parse_command(lines[0]).kind == KWS_CMD_BAD);
    n_lines = 0;
    feed_str("thr 0.85\r\n");
    check("a CRLF command parses", n_lines == 1 && kws_parse_command(lines[0]).kind == KWS_CMD_THRESHOLD);
    n_lines = 0;

    kws_cmdline_reset(&cmd);
    feed_str("garbage");
    kws_cmdline_reset(&cmd);
    feed_str("info\n");
    expect("reset drops a partial line", (const char *const[]){"info"}, 1);

    if (failures) return 1;
    printf("ok\n");
    return 0;
}
