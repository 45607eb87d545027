/*
 * The warm-path stub. A registered app's link points at this binary; run under
 * any name but "pilot-exec", it finds the plan the Node launcher left for this
 * app and caller (<run>/plans/<app>.u<uid>.plan), checks that nothing the plan
 * was made from has changed, adds what depends on the call (HOME, the cwd, the
 * caller's arguments and passed-through variables) and becomes pilot-exec with
 * that command line: no Node, about 2 ms instead of 150.
 *
 * It steps aside (execs the Node launcher, which plans, writes a fresh plan and
 * runs the app) whenever the fast path is not known to be right: caller arguments
 * starting with @ or %, PILOT_DEBUG, no plan (first call, or /run was cleared by
 * a reboot), a stamp that differs (flake files, image records, host layer, every
 * host file by dev/ino/size/mtime - a package upgrade replaces the inode - the
 * package database, pilot itself), a plan not owned by root or the caller.
 *
 * Plan format (written by src/runtime/fast-plan.ts): NUL-separated words,
 *   "pilot-plan" "1", then records:
 *   stamp PATH VALUE   VALUE = "dev:ino:size:mtime_ns" of lstat(PATH), or "-" if absent
 *   mountdev PATH DEV  PATH (a kept instance's root) is still the same mount: st_dev
 *   cover PREFIX       a cwd or HOME under PREFIX needs no bind
 *   passenv NAME       -e NAME from the flake: the caller's value wins (NAME* = prefix)
 *   opt WORD           a pilot-exec option word (static part of the command line)
 *   late WORD          the same, after the per-call HOME/cwd binds (volumes, host files)
 *   workdir DIR        fixed working dir (podman -w); the cwd is then not bound
 *   program PATH, fixed ARG, default ARG   the command; defaults replace no caller args
 *   pidfile DIR        a kept instance: record this call as DIR/<pid> (the app keeps the pid)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "stub.h"
#include "util.h"

extern char **environ;

static bool trace;

/* Runs the Node launcher in our place; it does everything the slow, sure way. */
static _Noreturn void fall_back(char **argv, const char *reason, const char *detail)
{
	if (trace)
		fprintf(stderr, "pilot: fast path declined: %s%s%s\n", reason, detail ? ": " : "",
			detail ? detail : "");
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0) {
		fprintf(stderr, "pilot: cannot find the launcher: /proc/self/exe: %s\n", strerror(errno));
		exit(126);
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	char launcher[PATH_MAX];
	snprintf(launcher, sizeof launcher, "%.*s/pilot-launch.mjs", (int)(slash ? slash - exe : 0), exe);
	/* The launcher finds the app by this name (its own argv[1] is its script). */
	setenv("PILOT_LAUNCH_AS", argv[0], 1);
	argv[0] = launcher;
	execv(launcher, argv);
	fprintf(stderr, "pilot: cannot run the launcher %s: %s\n", launcher, strerror(errno));
	exit(126);
}

/* Field 22 of /proc/self/stat (start time in clock ticks), as src/runtime/instances.ts reads it. */
static int process_start_time(char *out, size_t size)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2; /* the state field */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	size_t len = strcspn(p, " ");
	if (len == 0 || len >= size)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static bool is_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strcmp(prefix, "/") == 0)
		return strcmp(path, "/") == 0;
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool stamp_matches(const char *path, const char *want)
{
	struct stat st;
	char have[128];
	if (lstat(path, &st) < 0)
		snprintf(have, sizeof have, "-");
	else
		snprintf(have, sizeof have, "%llu:%llu:%lld:%lld", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	return strcmp(have, want) == 0;
}

/* The run dir, as src/core/paths.ts and the launcher compute it; NULL: let Node decide. */
/* FNV-1a (64 bit) of S: the name of a PILOT_ROOT under a caller's own run dir
 * (fnv1a64 in src/core/paths.ts). */
static unsigned long long fnv1a64(const char *s)
{
	unsigned long long hash = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		hash ^= (unsigned char)*s;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* A PILOT_ROOT as Node's path.resolve() would give it, or NULL for one it would change
 * (relative, "." or ".." components, doubled or trailing slashes): then no plan. */
static bool plain_root(const char *root)
{
	if (root[0] != '/' || strstr(root, "//") || strstr(root, "/./") || strstr(root, "/../"))
		return false;
	size_t len = strlen(root);
	if (len > 1 && root[len - 1] == '/')
		return false;
	return !(len >= 2 && strcmp(root + len - 2, "/.") == 0) &&
	       !(len >= 3 && strcmp(root + len - 3, "/..") == 0);
}

/*
 * Where this caller's plans are (launcherPaths in src/runtime/launch.ts): the store's
 * run dir for its owner (root for the system store); any other caller keeps its own, in
 * $XDG_RUNTIME_DIR/pilot or ~/.cache/pilot/run, a dir per PILOT_ROOT below that.
 */
static const char *run_dir(char *buf, size_t size, uid_t uid)
{
	const char *root = getenv("PILOT_ROOT");
	bool given = root && *root;
	if (given && !plain_root(root))
		return NULL;
	struct stat st;
	if (uid == 0 || (given && stat(root, &st) == 0 && st.st_uid == uid)) {
		snprintf(buf, size, "%s/run/pilot", given ? root : "");
		return buf;
	}
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/pilot", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.cache/pilot/run", home);
	else
		return NULL;
	if (given && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, "/roots/%016llx", fnv1a64(root));
	return n >= 0 && (size_t)n < size ? buf : NULL;
}

/* Reads the whole plan; NULL and why on failure. Refuses a plan others could have written. */
static char *read_plan_file(const char *path, uid_t uid, size_t *size, const char **why)
{
	char *text = NULL;
	switch (read_whole_file(path, uid, &text, size)) {
	case READ_OK:
		break;
	case READ_CANNOT_OPEN:
		*why = errno == ENOENT ? "no plan yet" : "cannot open plan";
		break;
	case READ_CANNOT_STAT:
	case READ_NOT_REGULAR:
	case READ_NOT_TRUSTED:
		*why = "plan not trusted (owner, mode or size)";
		break;
	case READ_CANNOT_READ:
	case READ_SHRANK:
		*why = "cannot read plan";
		break;
	}
	return text;
}

int stub_main(int argc, char **argv, const char *app)
{
	trace = getenv("PILOT_FASTPATH_TRACE") != NULL;
	const char *mode = getenv("PILOT_FASTPATH");
	if (mode && strcmp(mode, "off") == 0)
		fall_back(argv, "PILOT_FASTPATH=off", NULL);
	const char *debug = getenv("PILOT_DEBUG");
	if (debug && *debug && strcmp(debug, "0") != 0)
		fall_back(argv, "PILOT_DEBUG is set", NULL);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '@' || argv[i][0] == '%')
			fall_back(argv, "launcher argument", argv[i]);

	uid_t uid = getuid();
	char run[PATH_MAX], plan_path[PATH_MAX];
	if (!run_dir(run, sizeof run, uid))
		fall_back(argv, "no usable run dir", NULL);
	if ((size_t)snprintf(plan_path, sizeof plan_path, "%s/plans/%s.u%u.plan", run, app,
			     (unsigned)uid) >= sizeof plan_path)
		fall_back(argv, "path too long", NULL);
	size_t size;
	const char *why = NULL;
	char *buf = read_plan_file(plan_path, uid, &size, &why);
	if (!buf)
		fall_back(argv, why, plan_path);

	/* Split into words; the file ends with a NUL. */
	struct words plan = { 0 };
	split_words(buf, size, &plan);
	if (plan.n < 2 || strcmp(plan.v[0], "pilot-plan") != 0 || strcmp(plan.v[1], "1") != 0)
		fall_back(argv, "unknown plan format", plan_path);

	struct words opts = { 0 }, late = { 0 }, covers = { 0 }, passenv = { 0 }, fixed = { 0 }, defaults = { 0 };
	const char *program = NULL, *workdir = NULL, *pidfile_dir = NULL;
	for (size_t i = 2; i < plan.n;) {
		const char *key = plan.v[i];
		if (strcmp(key, "mountdev") == 0 && i + 2 < plan.n) {
			struct stat st;
			char have[32] = "-";
			if (lstat(plan.v[i + 1], &st) == 0)
				snprintf(have, sizeof have, "%llu", (unsigned long long)st.st_dev);
			if (strcmp(have, plan.v[i + 2]) != 0)
				fall_back(argv, "instance not mounted as planned", plan.v[i + 1]);
			i += 3;
			continue;
		}
		if (strcmp(key, "stamp") == 0 && i + 2 < plan.n) {
			if (!stamp_matches(plan.v[i + 1], plan.v[i + 2]))
				fall_back(argv, "plan is stale", plan.v[i + 1]);
			i += 3;
			continue;
		}
		if (i + 1 >= plan.n)
			fall_back(argv, "truncated plan", plan_path);
		char *value = plan.v[i + 1];
		if (strcmp(key, "opt") == 0)
			push_word(&opts, value);
		else if (strcmp(key, "late") == 0)
			push_word(&late, value);
		else if (strcmp(key, "cover") == 0)
			push_word(&covers, value);
		else if (strcmp(key, "passenv") == 0)
			push_word(&passenv, value);
		else if (strcmp(key, "fixed") == 0)
			push_word(&fixed, value);
		else if (strcmp(key, "default") == 0)
			push_word(&defaults, value);
		else if (strcmp(key, "program") == 0)
			program = value;
		else if (strcmp(key, "workdir") == 0)
			workdir = value;
		else if (strcmp(key, "pidfile") == 0)
			pidfile_dir = value;
		else
			fall_back(argv, "unknown plan record", key);
		i += 2;
	}
	if (!program)
		fall_back(argv, "plan has no program", plan_path);

	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
		fall_back(argv, "cwd cannot be shown", NULL);
	const char *home = getenv("HOME");
	bool home_ok = home && home[0] == '/' && strcmp(home, "/") != 0;
	for (size_t k = 0; home_ok && k < covers.n; k++)
		home_ok = !is_under(home, covers.v[k]);
	bool cwd_bind = !workdir && strcmp(cwd, "/") != 0 && !(home_ok && is_under(cwd, home));
	for (size_t k = 0; cwd_bind && k < covers.n; k++)
		cwd_bind = !is_under(cwd, covers.v[k]);

	struct words line = { 0 };
	push_word(&line, "pilot-exec");
	for (size_t k = 0; k < opts.n; k++)
		push_word(&line, opts.v[k]);
	if (home_ok) {
		push_word(&line, "--try-rbind");
		push_word(&line, (char *)home);
		push_word(&line, (char *)home);
	}
	if (cwd_bind) {
		/* The directory this process runs in, by descriptor (--rbind-cwd), not by a
		 * path another user could swap for a symlink meanwhile. */
		push_word(&line, "--rbind-cwd");
		push_word(&line, cwd);
	}
	for (size_t k = 0; k < late.n; k++)
		push_word(&line, late.v[k]);
	if (!cwd_bind) {
		push_word(&line, "--cwd");
		push_word(&line, workdir ? (char *)workdir : cwd);
	}
	for (size_t k = 0; k < passenv.n; k++) {
		const char *name = passenv.v[k];
		size_t len = strlen(name);
		bool prefix = len > 0 && name[len - 1] == '*';
		for (char **e = environ; *e; e++) {
			size_t cmp = prefix ? len - 1 : len;
			if (strncmp(*e, name, cmp) == 0 && (prefix || (*e)[cmp] == '=')) {
				push_word(&line, "--setenv");
				push_word(&line, xstrdup(*e));
			}
		}
	}
	push_word(&line, "--");
	push_word(&line, (char *)program);
	for (size_t k = 0; k < fixed.n; k++)
		push_word(&line, fixed.v[k]);
	if (argc > 1)
		for (int k = 1; k < argc; k++)
			push_word(&line, argv[k]);
	else
		for (size_t k = 0; k < defaults.n; k++)
			push_word(&line, defaults.v[k]);
	if (pidfile_dir) {
		/* The app will be this very process: `pilot ps` sees it running, `pilot stop`
		 * signals it; a record left by a dead pid is dropped when read. */
		char pidfile[PATH_MAX];
		snprintf(pidfile, sizeof pidfile, "%s/%ld", pidfile_dir, (long)getpid());
		int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			fall_back(argv, "cannot record the call in the instance", pidfile);
		/* With the start time the record names this process, not a later one that
		 * reuses the pid (pilot stop must never signal a stranger). */
		char start[32];
		if (process_start_time(start, sizeof start) == 0)
			dprintf(fd, "%s\n", start);
		close(fd);
	}
	/* Nothing may see this variable if the launcher once set it for us. */
	unsetenv("PILOT_LAUNCH_AS");
	if (trace)
		fprintf(stderr, "pilot: fast path taken\n");
	return exec_main((int)line.n, line.v);
}
