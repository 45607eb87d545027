/* What every part of pilot-exec uses: exit codes, messages, memory, word arrays, files. */
#ifndef PILOT_UTIL_H
#define PILOT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A growing array of words, always NULL-terminated (it can be an argv). */
struct words {
	char **v;
	size_t n, cap;
};

void push_word(struct words *w, char *word);
void split_words(char *text, size_t size, struct words *out);

/* The files pilot-exec reads whole are plans: small. */
#define READ_MAX_SIZE (1 << 20)

/* Why read_whole_file() failed; errno is kept where a system call failed. */
enum read_failure {
	READ_OK,
	READ_CANNOT_OPEN, /* open(2): errno (ELOOP: a symlink where one is refused) */
	READ_CANNOT_STAT, /* fstat(2): errno */
	READ_NOT_REGULAR, /* not a regular file, or larger than READ_MAX_SIZE */
	READ_NOT_TRUSTED, /* owner or mode let others than root and the owner write it */
	READ_CANNOT_READ, /* read(2): errno */
	READ_SHRANK,      /* end of file before the size fstat(2) gave */
};

/* --argv-fd and --build-tree read their words from a pipe, to its end. */
#define ARGV_FD_MAX_SIZE (64 << 20)
void read_fd_words(int fd, size_t max, struct words *out, const char *what);

enum read_failure read_whole_file(const char *path, uid_t owner, char **text, size_t *size);

#endif
