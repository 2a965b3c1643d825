/* The part of <stdio.h> engine_bench.c uses, for the freestanding Xtensa image (xt_runtime.c). */
#ifndef XT_STDIO_H
#define XT_STDIO_H
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
