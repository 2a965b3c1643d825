/*
 * xt_runtime.c - the little C run-time the freestanding Xtensa engine image needs on QEMU's "sim"
 * machine: output and exit through the simulator's SIMCALL semihosting (qemu-system-xtensa
 * -semihosting: a2 = call number, a3.. = arguments, result in a2; SYS_exit = 1, SYS_write = 4,
 * as in QEMU's target/xtensa/xtensa-semi.c), a printf for the formats engine_bench.c prints
 * (%d %u %x %s %c with an optional 0 flag, width and l), the string functions the compiler may
 * call, and the integer helpers Debian's libgcc for xtensa-lx106-elf lacks (64-bit multiply,
 * 32-bit divide). Only the engine's timed code matters for the counts; none of this is inside it
 * except the helpers the engine calls (a 64-bit multiply on a core without MULSH).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { SYS_EXIT = 1, SYS_WRITE = 4 };

static long simcall3(long n, long a, long b, long c) {
    register long a2 __asm__("a2") = n;
    register long a3 __asm__("a3") = a;
    register long a4 __asm__("a4") = b;
    register long a5 __asm__("a5") = c;
    __asm__ volatile("simcall" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
    return a2;
}

void xt_exit(int code) {
    simcall3(SYS_EXIT, code, 0, 0);
    for (;;) {
    }
}

/* --- output ------------------------------------------------------------------------------------ */

static char line[256];
static unsigned line_len;

static void flush(void) {
    if (line_len) simcall3(SYS_WRITE, 1, (long)line, (long)line_len);
    line_len = 0;
}

static void put(char c) {
    line[line_len++] = c;
    if (c == '\n' || line_len == sizeof line) flush();
}

static void put_number(unsigned long v, unsigned base, int negative, int width, char pad) {
    char digits[12];
    int n = 0;
    do {
        const unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (negative) width--;
    if (negative && pad == '0') put('-');
    for (int i = n; i < width; i++) put(pad);
    if (negative && pad != '0') put('-');
    while (n) put(digits[--n]);
}

int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(*p);
            continue;
        }
        p++;
        char pad = ' ';
        int width = 0;
        if (*p == '0') pad = '0', p++;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        if (*p == 'l') p++; /* long is int-sized here */
        switch (*p) {
        case 'd':
        case 'i': {
            const long v = va_arg(ap, long);
            put_number(v < 0 ? 0ul - (unsigned long)v : (unsigned long)v, 10, v < 0, width, pad);
            break;
        }
        case 'u': put_number(va_arg(ap, unsigned long), 10, 0, width, pad); break;
        case 'x': put_number(va_arg(ap, unsigned long), 16, 0, width, pad); break;
        case 'c': put((char)va_arg(ap, int)); break;
        case 's':
            for (const char *s = va_arg(ap, const char *); *s; s++) put(*s);
            break;
        case '%': put('%'); break;
        default: put('?'); break;
        }
    }
    va_end(ap);
    flush();
    return 0;
}

/* --- what the compiler may call ---------------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) return *x < *y ? -1 : 1;
    }
    return 0;
}

/* --- integer helpers missing from Debian's libgcc for this target -------------------------------- */

/* The unsigned 64-bit product of two 32-bit words, from four 16 x 16 multiplies (MUL32 gives only
 * the low word on the lx106). */
static uint64_t mul_32x32(uint32_t a, uint32_t b) {
    const uint32_t al = a & 0xFFFFu, ah = a >> 16, bl = b & 0xFFFFu, bh = b >> 16;
    const uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    const uint32_t mid = (ll >> 16) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    const uint32_t lo = (ll & 0xFFFFu) | (mid << 16);
    const uint32_t hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16);
    return (uint64_t)hi << 32 | lo;
}

long long __muldi3(long long a, long long b);
long long __muldi3(long long a, long long b) {
    const uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    const uint32_t alo = (uint32_t)ua, ahi = (uint32_t)(ua >> 32), blo = (uint32_t)ub, bhi = (uint32_t)(ub >> 32);
    const uint64_t p = mul_32x32(alo, blo);
    return (long long)(p + ((uint64_t)(alo * bhi + ahi * blo) << 32));
}

unsigned __udivsi3(unsigned n, unsigned d);
unsigned __udivsi3(unsigned n, unsigned d) {
    unsigned q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1u);
        if (r >= d) r -= d, q |= 1u << i;
    }
    return q;
}

unsigned __umodsi3(unsigned n, unsigned d);
unsigned __umodsi3(unsigned n, unsigned d) { return n - __udivsi3(n, d) * d; }

int __divsi3(int n, int d);
int __divsi3(int n, int d) {
    const unsigned q = __udivsi3(n < 0 ? 0u - (unsigned)n : (unsigned)n, d < 0 ? 0u - (unsigned)d : (unsigned)d);
    return (n < 0) != (d < 0) ? -(int)q : (int)q;
}
