/*
 * The warm-path stub. A registered app's link points at this binary; run under
 * any name but "pilot-exec", it finds the plan the Node launcher left for this
 * app and caller (<run>/plans/<app>.u<uid>.plan), checks that nothing the plan
 * was made from has changed, adds what depends on the call (HOME, the cwd, the
 * caller's arguments) and becomes pilot-exec with that command line: no Node,
 * about 2 ms instead of 150. The caller's environment is ours already: pilot-exec
 * applies the plan's environment options to it (env.c).
 *
 * It steps aside (execs the Node launcher, which plans, writes a fresh plan and
 * runs the app) whenever the fast path is not known to be right: caller arguments the
 * launcher takes (taken_by_launcher(), and @NAME for a kept instance), PILOT_DEBUG,
 * no plan (first call, or /run was cleared by a reboot), a stamp that differs (flake files,
 * image records, host layer, the host files' directories - a package upgrade renames a new
 * inode into place - and each host file that was copied rather than hard-linked, the
 * package database, pilot itself), a variable the plan used that changed, a plan not
 * owned by root or the caller.
 *
 * The plan file (written by src/runtime/fast-plan.ts) and the command line built
 * from it are specified once, in docs/plan.md ("The plan file", "The command line
 * the stub builds"): NUL-terminated words, the magic "pilot-plan" "2", then records
 * of a keyword and a fixed number of words (read and turned into the command line by
 * plan.c). PILOT_FASTPATH (docs/plan.md, "Dry run and required fast path"): off,
 * require, dry-run.
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

#include "caller.h"
#include "env.h"
#include "exec.h"
#include "plan.h"
#include "stub.h"
#include "util.h"

static bool trace, required;

/* Runs the Node launcher in our place; it does everything the slow, sure way. With
 * PILOT_FASTPATH=require (tests, benchmarks), says why and fails instead. */
static _Noreturn void fall_back(char **argv, const char *reason, const char *detail)
{
	if (required) {
		fprintf(stderr, "pilot: fast path required but declined: %s%s%s\n", reason,
			detail ? ": " : "", detail ? detail : "");
		exit(EXIT_SETUP);
	}
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

/*
 * Whether the Node launcher takes or rewrites ARG (src/core/caller-args.ts, docs/plan.md):
 * "@@x" and "%%x" (escapes), and flake-pilot's named options "%NAME" or "%NAME:VALUE"
 * (split at the last ':'). Every other argument reaches the app unchanged on both paths;
 * a kept instance's "@NAME" is checked once the plan is read.
 */
static bool taken_by_launcher(const char *arg)
{
	static const char *const named[] = { "remove", "ignore_sync_error",
					     "ignore_missing_volume_path", "interactive", "progress" };
	if ((arg[0] == '@' && arg[1] == '@') || (arg[0] == '%' && arg[1] == '%'))
		return true;
	if (arg[0] != '%')
		return false;
	const char *colon = strrchr(arg, ':');
	size_t len = (colon ? (size_t)(colon - arg) : strlen(arg)) - 1;
	for (size_t k = 0; k < sizeof named / sizeof *named; k++)
		if (strlen(named[k]) == len && strncmp(arg + 1, named[k], len) == 0)
			return true;
	return false;
}

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
 * (relative, "." or ".." components, doubled or trailing slashes) or refuse (a character
 * overlay mount options cannot carry: src/core/paths.ts): then no plan, and the Node
 * launcher says why. */
static bool plain_root(const char *root)
{
	if (root[0] != '/' || strstr(root, "//") || strstr(root, "/./") || strstr(root, "/../"))
		return false;
	if (strpbrk(root, ",:\\\n"))
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
static const char *run_dir(char *buf, size_t size, uid_t uid, bool *owns_store)
{
	const char *root = getenv("PILOT_ROOT");
	bool given = root && *root;
	if (given && !plain_root(root))
		return NULL;
	struct stat st;
	*owns_store = uid == 0 || (given && stat(root, &st) == 0 && st.st_uid == uid);
	if (*owns_store) {
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

/*
 * The plan of the store's owner for APP (<store>/plans/<app>.u<owner>.plan), which a reboot
 * keeps and which serves every caller when it says `callers all` (docs/plan.md, "Where
 * the plan is"); NULL when the app is not the system store's: an unprivileged caller
 * without PILOT_ROOT runs its own store's app of that name when it has one
 * (launcherPaths in src/runtime/launcher-paths.ts).
 */
static const char *store_plan(char *buf, size_t size, const char *app, uid_t uid)
{
	const char *root = getenv("PILOT_ROOT");
	struct stat st;
	int n;
	if (root && *root) {
		if (stat(root, &st) < 0)
			return NULL;
		n = snprintf(buf, size, "%s/var/lib/pilot/plans/%s.u%lu.plan", root, app,
			     (unsigned long)st.st_uid);
		return n >= 0 && (size_t)n < size ? buf : NULL;
	}
	if (uid != 0) {
		const char *config = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		if (config && config[0] == '/')
			n = snprintf(buf, size, "%s/flakes/%s.yaml", config, app);
		else if (home && home[0] == '/')
			n = snprintf(buf, size, "%s/.config/flakes/%s.yaml", home, app);
		else
			return NULL;
		if (n < 0 || (size_t)n >= size || lstat(buf, &st) == 0 || errno != ENOENT)
			return NULL;
	}
	n = snprintf(buf, size, "/var/lib/pilot/plans/%s.u0.plan", app);
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

/* A plan read and checked (docs/plan.md): false, and why, at the first doubt. A plan in
 * the store is taken only from a plans dir that nobody but root or the caller may write. */
static bool load_plan(const char *path, uid_t uid, bool in_store, struct plan *plan,
		      struct decline *why)
{
	if (in_store) {
		char dir[PATH_MAX];
		struct stat st;
		snprintf(dir, sizeof dir, "%s", path);
		*strrchr(dir, '/') = '\0';
		if (stat(dir, &st) < 0)
			return decline(why, "no plan yet", path);
		if ((st.st_uid != 0 && st.st_uid != uid) || (st.st_mode & 022))
			return decline(why, "plan not trusted (its dir)", path);
	}
	size_t size;
	const char *reason = NULL;
	char *buf = read_plan_file(path, uid, &size, &reason);
	if (!buf)
		return decline(why, reason, path);
	/* Every word ends in a NUL: a last word without one was cut short, and the end of
	 * the file is never the end of a record (docs/plan.md). */
	if (size == 0 || buf[size - 1] != '\0')
		return decline(why, "truncated plan", path);
	struct words words = { 0 };
	split_words(buf, size, &words);
	if (words.n < 2 || strcmp(words.v[0], "pilot-plan") != 0 || strcmp(words.v[1], "2") != 0)
		return decline(why, "unknown plan format", path);
	*plan = (struct plan){ 0 };
	return read_plan(&words, plan, why);
}

/* The app will be this very process: `pilot ps` sees it running, `pilot stop` signals
 * it; a record left by a dead pid is dropped when read. */
static void record_call(char **argv, const char *dir)
{
	char pidfile[PATH_MAX];
	snprintf(pidfile, sizeof pidfile, "%s/%ld", dir, (long)getpid());
	int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		fall_back(argv, "cannot record the call in the instance", pidfile);
	/* 0644 whatever the caller's umask (the Node launcher writes its records so too). */
	(void)fchmod(fd, 0644);
	/* With the start time the record names this process, not a later one that
	 * reuses the pid (pilot stop must never signal a stranger). */
	char start[32];
	if (process_start_time(start, sizeof start) == 0)
		dprintf(fd, "%s\n", start);
	close(fd);
}

static void print_word(const char *word)
{
	fwrite(word, 1, strlen(word) + 1, stdout);
}

/* PILOT_FASTPATH=dry-run: what the Node launcher would write to pilot-exec's --argv-fd,
 * each word NUL-terminated: "--environ" and each entry of the caller's environment (ours,
 * as env.c takes it), then the words after "pilot-exec". */
static _Noreturn void print_line(const struct words *line)
{
	struct words env = { 0 };
	caller_environ(&env);
	for (size_t k = 0; k < env.n; k++) {
		print_word("--environ");
		print_word(env.v[k]);
	}
	for (size_t k = 1; k < line->n; k++)
		print_word(line->v[k]);
	if (fflush(stdout) != 0)
		die_errno("cannot write the command line", NULL, errno);
	exit(0);
}

int stub_main(int argc, char **argv, const char *app)
{
	trace = getenv("PILOT_FASTPATH_TRACE") != NULL;
	const char *mode = getenv("PILOT_FASTPATH");
	if (mode && strcmp(mode, "off") == 0)
		fall_back(argv, "PILOT_FASTPATH=off", NULL);
	required = mode && strcmp(mode, "require") == 0;
	bool dry_run = mode && strcmp(mode, "dry-run") == 0;
	const char *debug = getenv("PILOT_DEBUG");
	if (debug && *debug && strcmp(debug, "0") != 0)
		fall_back(argv, "PILOT_DEBUG is set", NULL);
	for (int i = 1; i < argc; i++)
		if (taken_by_launcher(argv[i]))
			fall_back(argv, "launcher argument", argv[i]);

	uid_t uid = getuid();
	char run[PATH_MAX], plan_path[PATH_MAX], shared_path[PATH_MAX];
	const char *root = getenv("PILOT_ROOT");
	if (root && *root && !plain_root(root))
		fall_back(argv, "PILOT_ROOT is not a plain absolute path", root);
	bool owns_store = false;
	if (!run_dir(run, sizeof run, uid, &owns_store))
		fall_back(argv, "no usable run dir", NULL);
	/* The store's plan first (it serves every caller and outlives a reboot), then the
	 * caller's own (a kept instance, another identity, a store it does not own). */
	struct plan plan = { 0 };
	struct decline why_not, why_shared = { "no plan yet", NULL };
	const char *shared = store_plan(shared_path, sizeof shared_path, app, uid);
	bool found = shared && load_plan(shared, uid, true, &plan, &why_shared);
	if (!found) {
		if ((size_t)snprintf(plan_path, sizeof plan_path, "%s/plans/%s.u%u.plan", run, app,
				     (unsigned)uid) >= sizeof plan_path)
			fall_back(argv, "path too long", NULL);
		/* Said: why the caller's own plan was not taken, or, when it has none, why the
		 * store's was not. */
		if (!load_plan(plan_path, uid, false, &plan, &why_not)) {
			bool none = (strcmp(why_not.reason, "no plan yet") == 0 ||
				     strcmp(why_not.reason, "cannot open plan") == 0) &&
				    strcmp(why_shared.reason, "no plan yet") != 0;
			fall_back(argv, none ? why_shared.reason : why_not.reason,
				  none ? why_shared.detail : why_not.detail);
		}
	}
	struct words line = { 0 };
	struct caller_part caller = { 0 };
	if (!caller_part(run, owns_store, &plan, &caller, &why_not))
		fall_back(argv, why_not.reason, why_not.detail);
	/* A kept instance's plan is its default instance's: @NAME names another one. */
	for (int i = 1; plan.pidfile_dir && i < argc; i++)
		if (argv[i][0] == '@' && argv[i][1] != '\0')
			fall_back(argv, "instance argument", argv[i]);
	if (!build_line(argc, argv, &plan, &caller.first, &caller.binds, &line, &why_not))
		fall_back(argv, why_not.reason, why_not.detail);
	/* Nothing may see this variable if the launcher once set it for us. */
	unsetenv("PILOT_LAUNCH_AS");
	if (dry_run) {
		if (trace)
			fprintf(stderr, "pilot: fast path taken (dry run)\n");
		print_line(&line);
	}
	if (plan.pidfile_dir)
		record_call(argv, plan.pidfile_dir);
	if (trace)
		fprintf(stderr, "pilot: fast path taken\n");
	return exec_main((int)line.n, line.v);
}
