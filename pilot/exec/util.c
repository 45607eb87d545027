/* Messages, dying, memory, word arrays and whole files, shared by the exec step and the stub. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* Room for element n of a growing array of *cap elements (doubling as often as needed:
 * an array may grow by more than one element at a time). */
void *reserve(void *array, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return array;
	size_t want = *cap ? *cap : 16;
	while (want <= n)
		want *= 2;
	*cap = want;
	array = realloc(array, *cap * size);
	if (!array)
		die_errno("out of memory", NULL, ENOMEM);
	return array;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *copy = strndup(s, n);
	if (!copy)
		die_errno("out of memory", NULL, ENOMEM);
	return copy;
}

/* Appends WORD and keeps the array NULL-terminated. */
void push_word(struct words *w, char *word)
{
	w->v = reserve(w->v, &w->cap, w->n + 1, sizeof *w->v);
	w->v[w->n++] = word;
	w->v[w->n] = NULL;
}

/* Appends the NUL-separated words of TEXT (SIZE bytes, and a NUL at TEXT[SIZE]). A
 * trailing NUL terminates the last word, it does not start one; no text, no words. */
void split_words(char *text, size_t size, struct words *out)
{
	for (size_t i = 0; i < size; i += strlen(text + i) + 1)
		push_word(out, text + i);
}

/* Reads FD to its end (at most MAX bytes) and appends its NUL-separated words. */
void read_fd_words(int fd, size_t max, struct words *out, const char *what)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = xcalloc(cap + 1, 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max)
				die("%s: more than %zu bytes", what, max);
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die_errno("out of memory", NULL, ENOMEM);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("cannot read", what, errno);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	split_words(buf, len, out);
}

static enum read_failure close_failing(int fd, enum read_failure failure)
{
	int err = errno;
	close(fd);
	errno = err;
	return failure;
}

/*
 * Reads PATH whole into *text, NUL-terminated, *size bytes before the NUL. The file
 * must be one that only root or OWNER could have written: not a symlink (O_NOFOLLOW),
 * owned by one of them, not writable by group or others (the stub's plan: its only
 * reader since the exec step's --plan mode gave way to --argv-fd). End of file before the size fstat(2) gave is READ_SHRANK: a read(2) of 0 is
 * never taken for EINTR, whatever errno holds from before.
 */
enum read_failure read_whole_file(const char *path, uid_t owner, char **text, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return READ_CANNOT_OPEN;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return close_failing(fd, READ_CANNOT_STAT);
	if (!S_ISREG(st.st_mode) || st.st_size > READ_MAX_SIZE)
		return close_failing(fd, READ_NOT_REGULAR);
	if ((st.st_uid != 0 && st.st_uid != owner) || (st.st_mode & 022))
		return close_failing(fd, READ_NOT_TRUSTED);
	size_t len = (size_t)st.st_size;
	char *buf = xcalloc(len + 1, 1);
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return close_failing(fd, n < 0 ? READ_CANNOT_READ : READ_SHRANK);
		}
		got += (size_t)n;
	}
	close(fd);
	*text = buf;
	*size = len;
	return READ_OK;
}
