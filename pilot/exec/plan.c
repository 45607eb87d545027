/*
 * A plan's records and the command line built from them, as docs/plan.md specifies
 * ("The plan file", "The command line the stub builds"). A record is a keyword and a
 * fixed number of words (records[]); a check record (stamp, dirstamp, mountdev, envdep) that
 * does not hold, an unknown keyword or a record cut short declines the plan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

extern char **environ;

static bool is_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strcmp(prefix, "/") == 0)
		return strcmp(path, "/") == 0;
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* stamp: dev:ino:size:mtime_ns of lstat(PATH) (src/core/file-identity.ts);
 * dirstamp: dev:ino:mtime_ns:ctime_ns of stat(PATH), symlinks followed (a directory
 * reached through a host symlink is the one compared). Either is "-" for a missing path.
 * An entry added, removed or renamed changes a directory's mtime and ctime; a file
 * hard-linked into the host layer needs no stamp of its own (src/runtime/host-stamps.ts). */
static bool stamp_matches(const char *path, const char *want, bool dir)
{
	struct stat st;
	char have[128];
	if ((dir ? stat(path, &st) : lstat(path, &st)) < 0)
		snprintf(have, sizeof have, "-");
	else
		snprintf(have, sizeof have, "%llu:%llu:%lld:%lld", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino,
			 dir ? (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec
			     : (long long)st.st_size,
			 dir ? (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec
			     : (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	return strcmp(have, want) == 0;
}

/* The records of a plan and the number of words after each keyword (docs/plan.md). */
enum record { STAMP, DIRSTAMP, MOUNTDEV, ENVDEP, PIDFILE, CALLERS, ACCOUNTS, COVER, HOMEBIND, OPT,
	      LATE, WORKDIR, PROGRAM, FIXED, DEFAULT, NRECORDS };

static const struct {
	const char *key;
	size_t nwords;
} records[NRECORDS] = {
	[STAMP] = { "stamp", 2 },
	[DIRSTAMP] = { "dirstamp", 2 },
	[MOUNTDEV] = { "mountdev", 2 },
	[ENVDEP] = { "envdep", 2 },
	[PIDFILE] = { "pidfile", 1 },
	[CALLERS] = { "callers", 1 },
	[ACCOUNTS] = { "accounts", 2 },
	[COVER] = { "cover", 1 },
	[HOMEBIND] = { "homebind", 1 },
	[OPT] = { "opt", 1 },
	[LATE] = { "late", 1 },
	[WORKDIR] = { "workdir", 1 },
	[PROGRAM] = { "program", 1 },
	[FIXED] = { "fixed", 1 },
	[DEFAULT] = { "default", 1 },
};

/* envdep NAME VALUE: VALUE is "=" and the value the plan used, or "-" for unset; the
 * caller's is what getenv() would give (the first NAME=), compared as bytes. */
static bool envdep_matches(const char *name, const char *want)
{
	size_t len = strlen(name);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return strcmp(*e + len, want) == 0;
	return strcmp(want, "-") == 0;
}

static bool mountdev_matches(const char *path, const char *want)
{
	struct stat st;
	char have[32] = "-";
	if (lstat(path, &st) == 0)
		snprintf(have, sizeof have, "%llu", (unsigned long long)st.st_dev);
	return strcmp(have, want) == 0;
}

bool read_plan(const struct words *w, struct plan *p, struct decline *why)
{
	p->home_bind = true;
	for (size_t i = 2; i < w->n;) {
		enum record r = 0;
		while (r < NRECORDS && strcmp(records[r].key, w->v[i]) != 0)
			r++;
		if (r == NRECORDS)
			return decline(why, "unknown plan record", w->v[i]);
		/* The end of the file is never the end of a record. */
		if (w->n - i - 1 < records[r].nwords)
			return decline(why, "truncated plan", records[r].key);
		char *a = w->v[i + 1], *b = records[r].nwords > 1 ? w->v[i + 2] : NULL;
		static char detail[PATH_MAX];
		switch (r) {
		case STAMP:
			if (!stamp_matches(a, b, false))
				return decline(why, "plan is stale", a);
			break;
		case DIRSTAMP:
			if (!stamp_matches(a, b, true))
				return decline(why, "plan is stale", a);
			break;
		case MOUNTDEV:
			if (!mountdev_matches(a, b))
				return decline(why, "instance not mounted as planned", a);
			break;
		case ENVDEP:
			if (!envdep_matches(a, b)) {
				snprintf(detail, sizeof detail, "variable %s changed", a);
				return decline(why, "plan is stale", detail);
			}
			break;
		case HOMEBIND:
			if (strcmp(a, "caller") != 0 && strcmp(a, "no") != 0)
				return decline(why, "unknown homebind", a);
			p->home_bind = strcmp(a, "caller") == 0;
			break;
		case PIDFILE:
			p->pidfile_dir = a;
			break;
		case CALLERS: {
			/* "all", or the one uid the plan was made for. */
			char *end;
			unsigned long only = strtoul(a, &end, 10);
			if (strcmp(a, "all") != 0 && (a[0] < '0' || a[0] > '9' || *end))
				return decline(why, "unknown callers", a);
			if (strcmp(a, "all") != 0 && only != (unsigned long)getuid())
				return decline(why, "plan is another caller's", a);
			p->callers = a;
			break;
		}
		case ACCOUNTS:
			p->passwd = a;
			p->group = b;
			break;
		case COVER:
			push_word(&p->covers, a);
			break;
		case OPT:
			push_word(&p->opts, a);
			break;
		case LATE:
			push_word(&p->late, a);
			break;
		case WORKDIR:
			p->workdir = a;
			break;
		case PROGRAM:
			p->program = a;
			break;
		case FIXED:
			push_word(&p->fixed, a);
			break;
		case DEFAULT:
			push_word(&p->defaults, a);
			break;
		case NRECORDS:
			break;
		}
		i += 1 + records[r].nwords;
	}
	if (!p->program)
		return decline(why, "plan has no program", NULL);
	if (!p->callers)
		return decline(why, "plan has no callers", NULL);
	return true;
}

static bool is_covered(const char *path, const struct words *covers)
{
	for (size_t k = 0; k < covers->n; k++)
		if (is_under(path, covers->v[k]))
			return true;
	return false;
}

static void push_all(struct words *line, const struct words *w)
{
	for (size_t k = 0; k < w->n; k++)
		push_word(line, w->v[k]);
}

/* The caller's cwd as docs/plan.md has it: getcwd(), or for a deleted directory
 * (getcwd() fails with ENOENT) the path /proc/self/cwd shows without " (deleted)".
 * NULL when neither says where it is. */
static char *caller_cwd(bool *deleted)
{
	char *cwd = xcalloc(PATH_MAX, 1);
	*deleted = false;
	if (getcwd(cwd, PATH_MAX))
		return cwd[0] == '/' ? cwd : NULL;
	if (errno != ENOENT)
		return NULL;
	static const char suffix[] = " (deleted)";
	ssize_t n = readlink("/proc/self/cwd", cwd, PATH_MAX - 1);
	size_t len = n > 0 ? (size_t)n : 0, cut = sizeof suffix - 1;
	if (len <= cut || cwd[0] != '/' || memcmp(cwd + len - cut, suffix, cut) != 0)
		return NULL;
	cwd[len - cut] = '\0';
	*deleted = true;
	return cwd;
}

/* HOME is the caller's $HOME, the cwd caller_cwd(); the cwd is bound by descriptor
 * (a deleted one always: no path leads to it). */
bool build_line(int argc, char **argv, const struct plan *p, const struct words *first,
		const struct words *caller_binds, struct words *line, struct decline *why)
{
	bool deleted = false;
	char *cwd = p->workdir ? NULL : caller_cwd(&deleted);
	if (!p->workdir && !cwd)
		return decline(why, "cwd cannot be shown", NULL);
	char *home = getenv("HOME");
	bool home_bind = p->home_bind && home && home[0] == '/' && strcmp(home, "/") != 0 &&
			 !is_covered(home, &p->covers);
	bool cwd_bind = !p->workdir &&
			(deleted || (strcmp(cwd, "/") != 0 && !is_covered(cwd, &p->covers) &&
				     !(home_bind && is_under(cwd, home))));

	push_word(line, "pilot-exec");
	push_all(line, first);
	push_all(line, &p->opts);
	push_all(line, caller_binds);
	if (home_bind) {
		push_word(line, "--try-rbind");
		push_word(line, home);
		push_word(line, home);
	}
	if (cwd_bind) {
		/* The directory this process runs in, by descriptor (--rbind-cwd), not by a
		 * path another user could swap for a symlink meanwhile. */
		push_word(line, "--rbind-cwd");
		push_word(line, cwd);
	}
	push_all(line, &p->late);
	if (!cwd_bind) {
		push_word(line, "--cwd");
		push_word(line, p->workdir ? (char *)p->workdir : cwd);
	}
	push_word(line, "--");
	push_word(line, (char *)p->program);
	push_all(line, &p->fixed);
	if (argc > 1)
		for (int k = 1; k < argc; k++)
			push_word(line, argv[k]);
	else
		push_all(line, &p->defaults);
	return true;
}

