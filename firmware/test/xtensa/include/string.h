/* The part of <string.h> the engine and engine_bench.c use, for the freestanding Xtensa image (xt_runtime.c). */
#ifndef XT_STRING_H
#define XT_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
