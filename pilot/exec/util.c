/* Messages, dying and memory for the exec step (see util.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static bool debug_on;
static struct timespec t_start;

void start_debug_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &t_start);
}

void set_debug(bool on)
{
	debug_on = on;
}

void debug(const char *fmt, ...)
{
	if (!debug_on)
		return;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long us = (t.tv_sec - t_start.tv_sec) * 1000000L + (t.tv_nsec - t_start.tv_nsec) / 1000;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "pilot-exec: %6ldus %s\n", us, msg);
}

/* Every failure before exec: "pilot: WHAT: PATH: strerror", exit 125. */
_Noreturn void die_errno(const char *what, const char *path, int err)
{
	if (path)
		fprintf(stderr, "pilot: %s: %s: %s\n", what, path, strerror(err));
	else
		fprintf(stderr, "pilot: %s: %s\n", what, strerror(err));
	exit(EXIT_SETUP);
}

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	fputs("pilot: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die_errno("out of memory", NULL, ENOMEM);
	return p;
}

/* Room for element n of a growing array of *cap elements. */
void *reserve(void *array, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return array;
	*cap = *cap ? 2 * *cap : 16;
	array = realloc(array, *cap * size);
	if (!array)
		die_errno("out of memory", NULL, ENOMEM);
	return array;
}
