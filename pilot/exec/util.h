/* What every part of pilot-exec uses: its exit codes, its messages, memory. */
#ifndef PILOT_UTIL_H
#define PILOT_UTIL_H

#include <stdbool.h>
#include <stddef.h>

enum { EXIT_SETUP = 125, EXIT_CANNOT_EXEC = 126, EXIT_NOT_FOUND = 127 };

/* Starts the clock that debug() lines are timed against. */
void start_debug_clock(void);
/* --debug: debug() prints from now on. */
void set_debug(bool on);
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_errno(const char *what, const char *path, int err);
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);
void *reserve(void *array, size_t *cap, size_t n, size_t size);

#endif
