/*
 * pilot-exec: the exec step of the pilot launcher (see DESIGN.md, "Running").
 *
 * The Node launcher (plan step) computes everything and spawns this program with
 * stdio inherited. pilot-exec enters a private mount namespace, composes the app's
 * root with one overlay mount on a private tmpfs, bind-mounts host paths into it,
 * chroots, drops to the caller's ids and execve()s the app IN PLACE: it never
 * forks, so the app is the very process Node spawned and its signals and exit
 * code are native. No PID namespace (PID 1 ignores SIGTERM), no bubblewrap (it forks).
 *
 *   pilot-exec [OPTIONS] -- PROGRAM [ARGS...]        (options: see usage_text below)
 *
 * Exit codes of its own: 125 setup failed (with a message "pilot: WHAT: PATH: ERROR"),
 * 126 the program cannot be executed, 127 the program is not in the image.
 *
 * It is self-contained C (libc only, linked statically) because a warm launch will
 * later run it directly from a precomputed --plan file without starting Node.
 * It has no privileges of its own (it is not setuid): everything it does, the
 * caller could do with unshare(1) and mount(8); it only does it in ~1 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#include "pilot-exec.h"

/*
 * Kernel interfaces that glibc 2.36 declares only partly (and <linux/mount.h> clashes
 * with <sys/mount.h> there), so they are spelled out here and called via syscall().
 * Values are the kernel ABI (include/uapi/linux/{openat2,mount,fcntl}.h).
 */
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH 0x08
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x04
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x01
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif
#if !defined(SYS_openat2) || !defined(SYS_open_tree) || !defined(SYS_move_mount) || \
    !defined(SYS_mount_setattr)
#error "kernel headers too old: need openat2, open_tree, move_mount, mount_setattr (Linux >= 5.12)"
#endif

struct pe_open_how { uint64_t flags, mode, resolve; };
struct pe_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct pe_open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static int sys_open_tree(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static int sys_move_mount(int from_fd, int to_fd)
{
	return (int)syscall(SYS_move_mount, from_fd, "", to_fd, "",
			    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int sys_mount_setattr_rdonly(int fd)
{
	struct pe_mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr);
}

/* ------------------------------------------------------------------------- */
/* Options                                                                     */

enum { EXIT_SETUP = 125, EXIT_CANNOT_EXEC = 126, EXIT_NOT_FOUND = 127 };

enum bind_kind { BIND, RBIND, BIND_RO };

struct bind {
	enum bind_kind kind;
	bool optional; /* --try-*: a missing SRC is skipped silently */
	const char *src, *dst;
};

struct env_op {
	bool set; /* true: --setenv K=V, false: --unsetenv K */
	const char *arg;
};

struct opts {
	const char *plan, *lowerdir_base, *lowerdir, *root, *upper, *work, *mnt, *cwd;
	struct bind *binds;
	size_t nbinds;
	struct env_op *env;
	size_t nenv;
	bool have_uid, have_gid, have_groups;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	bool userns, debug, root_mutable;
	uid_t caller_uid; /* for --userns: the ids the maps point at */
	gid_t caller_gid;
	char **argv; /* PROGRAM ARGS..., NULL-terminated */
};

static const char usage_text[] =
	"usage: pilot-exec [OPTIONS] -- PROGRAM [ARGS...]\n"
	"  --plan FILE            read options from FILE (NUL-separated words), as if here\n"
	"  --mnt DIR              scratch dir for a private tmpfs (required)\n"
	"  --lowerdir LIST        overlay lower dirs, colon-separated, leftmost on top\n"
	"  --lowerdir-base DIR    relative lower dirs are relative to DIR\n"
	"  --root DIR             use a composed root dir instead of an overlay\n"
	"  --root-mutable         mount points may be created in the --root tree (a kept\n"
	"                         instance: an overlay whose upper dir pilot owns)\n"
	"  --upper DIR --work DIR persistent overlay upper/work dirs instead of tmpfs\n"
	"  --bind|--rbind|--bind-ro SRC DST, --try-bind|--try-rbind SRC DST\n"
	"  --cwd DIR              working dir inside the new root (default /)\n"
	"  --uid N --gid N [--groups LIST]   ids for the app (root caller)\n"
	"  --userns               unprivileged caller: run via user namespaces\n"
	"  --setenv K=V, --unsetenv K, --debug\n";

static bool debug_on;
static struct timespec t_start;

static void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug(const char *fmt, ...)
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
static _Noreturn void die_errno(const char *what, const char *path, int err)
{
	if (path)
		fprintf(stderr, "pilot: %s: %s: %s\n", what, path, strerror(err));
	else
		fprintf(stderr, "pilot: %s: %s\n", what, strerror(err));
	exit(EXIT_SETUP);
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	fputs("pilot: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die_errno("out of memory", NULL, ENOMEM);
	return p;
}

/* Room for element n of a growing array of *cap elements. */
static void *reserve(void *array, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return array;
	*cap = *cap ? 2 * *cap : 16;
	array = realloc(array, *cap * size);
	if (!array)
		die_errno("out of memory", NULL, ENOMEM);
	return array;
}

/* Reads a --plan file: NUL-separated words, an optional trailing NUL. */
static char **read_plan(const char *file, size_t *count)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot open plan", file, errno);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die_errno("cannot stat plan", file, errno);
	if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20))
		die("plan: %s: not a regular file of at most 1 MiB", file);
	size_t size = (size_t)st.st_size;
	char *buf = xcalloc(size + 1, 1);
	for (size_t got = 0; got < size;) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("cannot read plan", file, errno);
		if (n == 0)
			die("plan: %s: file shrank while reading", file);
		got += (size_t)n;
	}
	close(fd);

	size_t end = size;
	if (end > 0 && buf[end - 1] == '\0')
		end--; /* the trailing NUL terminates the last word, it does not start one */
	size_t n = 0;
	if (size > 0) {
		n = 1;
		for (size_t i = 0; i < end; i++)
			n += buf[i] == '\0';
	}
	char **words = xcalloc(n + 1, sizeof *words);
	for (size_t i = 0, w = 0; w < n; w++) {
		words[w] = buf + i;
		i += strlen(buf + i) + 1;
		if (strcmp(words[w], "--") == 0)
			die("plan: %s: must not contain \"--\" (the program comes from the command line)",
			    file);
	}
	*count = n;
	return words;
}

static unsigned long parse_id(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v >= (unsigned long)(uid_t)-1)
		die("usage: %s: not a valid id: %s", opt, s);
	return v;
}

static void parse_groups(struct opts *o, const char *list)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	o->groups = xcalloc(n, sizeof *o->groups);
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		die_errno("out of memory", NULL, ENOMEM);
	for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save))
		o->groups[o->ngroups++] = (gid_t)parse_id("--groups", g);
	free(copy);
}

static void set_once(const char **slot, const char *opt, const char *value)
{
	if (*slot)
		die("usage: %s given twice", opt);
	*slot = value;
}

static bool is_abs(const char *p) { return p[0] == '/'; }

static void require_abs(const char *opt, const char *p)
{
	if (!is_abs(p))
		die("usage: %s: must be an absolute path: %s", opt, p);
}

/* Paths that end up inside the overlay's option string, where ',' separates options
 * and '\' escapes: refused rather than escaped, pilot never generates them. */
static void require_option_safe(const char *opt, const char *p)
{
	if (strpbrk(p, ",\\"))
		die("usage: %s: ',' and '\\' are not allowed in overlay paths: %s", opt, p);
}

/* A bind target is a path inside the new root: absolute, not the root itself,
 * no ".." (it would walk out of the place it names). */
static void check_target(const char *dst)
{
	require_abs("bind target", dst);
	bool has_component = false;
	for (const char *p = dst; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			die("usage: bind target must not contain \"..\": %s", dst);
		if (len && !(len == 1 && p[0] == '.'))
			has_component = true;
		p += len;
	}
	if (!has_component)
		die("usage: bind target must not be the root itself: %s", dst);
}

static void validate(struct opts *o)
{
	if (!o->mnt)
		die("usage: --mnt DIR is required");
	require_abs("--mnt", o->mnt);
	if (!o->lowerdir == !o->root)
		die("usage: exactly one of --lowerdir and --root is required");
	if (!o->upper != !o->work)
		die("usage: --upper and --work go together");
	if (o->root) {
		require_abs("--root", o->root);
		if (o->upper || o->lowerdir_base)
			die("usage: --upper/--work/--lowerdir-base need --lowerdir, not --root");
	} else {
		require_option_safe("--mnt", o->mnt);
		require_option_safe("--lowerdir", o->lowerdir);
		if (o->lowerdir_base)
			require_abs("--lowerdir-base", o->lowerdir_base);
		if (o->upper) {
			require_abs("--upper", o->upper);
			require_abs("--work", o->work);
			require_option_safe("--upper", o->upper);
			require_option_safe("--work", o->work);
			/* --userns mounts a probe with the upper dir as a lower dir. */
			if (strchr(o->upper, ':'))
				die("usage: --upper: ':' is not allowed: %s", o->upper);
		}
		/* Relative lower dirs resolve against the cwd at mount time: only sane
		 * when the caller said what that cwd is. */
		for (const char *p = o->lowerdir;; p++) {
			size_t len = strcspn(p, ":");
			if (len == 0)
				die("usage: --lowerdir: empty entry in %s", o->lowerdir);
			if (p[0] != '/' && !o->lowerdir_base)
				die("usage: --lowerdir: relative entries need --lowerdir-base: %s",
				    o->lowerdir);
			p += len;
			if (!*p)
				break;
		}
	}
	for (size_t i = 0; i < o->nbinds; i++) {
		/* SRC is opened after chdir(--lowerdir-base): relative would be ambiguous. */
		require_abs("bind source", o->binds[i].src);
		check_target(o->binds[i].dst);
	}
	if (o->cwd)
		require_abs("--cwd", o->cwd);
	if (o->have_uid != o->have_gid)
		die("usage: --uid and --gid go together");
	if (o->have_groups && !o->have_gid)
		die("usage: --groups needs --uid and --gid");
	if (o->userns && (o->have_uid || o->have_groups))
		die("usage: --userns runs the app as the caller: no --uid/--gid/--groups");
	for (size_t i = 0; i < o->nenv; i++) {
		const char *a = o->env[i].arg;
		const char *eq = strchr(a, '=');
		if (o->env[i].set ? (!eq || eq == a) : (!*a || eq))
			die("usage: %s: bad argument: %s", o->env[i].set ? "--setenv" : "--unsetenv", a);
	}
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	/* Work on a copy of argv so that --plan can splice its words in place. */
	size_t n = (size_t)argc - 1;
	char **tok = xcalloc(n + 1, sizeof *tok);
	memcpy(tok, argv + 1, n * sizeof *tok);
	size_t bind_cap = 0, env_cap = 0;

	size_t i = 0;
	for (;;) {
		if (i >= n)
			die("usage: missing \"-- PROGRAM\"\n%s", usage_text);
		const char *opt = tok[i++];
		if (strcmp(opt, "--") == 0)
			break;
#define VALUE()                                                                   \
	({                                                                        \
		if (i >= n || strcmp(tok[i], "--") == 0)                          \
			die("usage: %s needs a value", opt);                      \
		tok[i++];                                                         \
	})
		if (strcmp(opt, "--plan") == 0) {
			const char *file = VALUE();
			set_once(&o->plan, opt, file);
			size_t np;
			char **words = read_plan(file, &np);
			/* Splice: tok[0..i) + words + tok[i..n); parsing goes on at the words. */
			char **next = xcalloc(n + np + 1, sizeof *next);
			memcpy(next, tok, i * sizeof *next);
			memcpy(next + i, words, np * sizeof *next);
			memcpy(next + i + np, tok + i, (n - i) * sizeof *next);
			tok = next;
			n += np;
		} else if (strcmp(opt, "--lowerdir-base") == 0) {
			set_once(&o->lowerdir_base, opt, VALUE());
		} else if (strcmp(opt, "--lowerdir") == 0) {
			set_once(&o->lowerdir, opt, VALUE());
		} else if (strcmp(opt, "--root") == 0) {
			set_once(&o->root, opt, VALUE());
		} else if (strcmp(opt, "--root-mutable") == 0) {
			o->root_mutable = true;
		} else if (strcmp(opt, "--upper") == 0) {
			set_once(&o->upper, opt, VALUE());
		} else if (strcmp(opt, "--work") == 0) {
			set_once(&o->work, opt, VALUE());
		} else if (strcmp(opt, "--mnt") == 0) {
			set_once(&o->mnt, opt, VALUE());
		} else if (strcmp(opt, "--cwd") == 0) {
			set_once(&o->cwd, opt, VALUE());
		} else if (strcmp(opt, "--bind") == 0 || strcmp(opt, "--rbind") == 0 ||
			   strcmp(opt, "--bind-ro") == 0 || strcmp(opt, "--try-bind") == 0 ||
			   strcmp(opt, "--try-rbind") == 0) {
			o->binds = reserve(o->binds, &bind_cap, o->nbinds, sizeof *o->binds);
			struct bind *b = &o->binds[o->nbinds++];
			b->optional = strncmp(opt, "--try-", 6) == 0;
			b->kind = strstr(opt, "rbind") ? RBIND : strstr(opt, "-ro") ? BIND_RO : BIND;
			b->src = VALUE();
			b->dst = VALUE();
		} else if (strcmp(opt, "--uid") == 0) {
			if (o->have_uid)
				die("usage: --uid given twice");
			o->uid = (uid_t)parse_id(opt, VALUE());
			o->have_uid = true;
		} else if (strcmp(opt, "--gid") == 0) {
			if (o->have_gid)
				die("usage: --gid given twice");
			o->gid = (gid_t)parse_id(opt, VALUE());
			o->have_gid = true;
		} else if (strcmp(opt, "--groups") == 0) {
			if (o->have_groups)
				die("usage: --groups given twice");
			parse_groups(o, VALUE());
			o->have_groups = true;
		} else if (strcmp(opt, "--userns") == 0) {
			o->userns = true;
		} else if (strcmp(opt, "--setenv") == 0 || strcmp(opt, "--unsetenv") == 0) {
			o->env = reserve(o->env, &env_cap, o->nenv, sizeof *o->env);
			o->env[o->nenv].set = strcmp(opt, "--setenv") == 0;
			o->env[o->nenv++].arg = VALUE();
		} else if (strcmp(opt, "--debug") == 0) {
			o->debug = true;
		} else {
			die("usage: unknown option: %s\n%s", opt, usage_text);
		}
#undef VALUE
	}
	if (i >= n)
		die("usage: missing PROGRAM after \"--\"");
	o->argv = tok + i;
	if (!o->cwd)
		o->cwd = "/";
	validate(o);
}

/* ------------------------------------------------------------------------- */
/* Steps                                                                       */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot open", path, errno);
	size_t len = strlen(text);
	/* /proc id maps must be written in one write(2). */
	if (write(fd, text, len) != (ssize_t)len)
		die_errno("cannot write", path, errno);
	close(fd);
}

/* Writes setgroups "deny", then uid_map and gid_map, for the current user namespace.
 * "deny" first: the kernel refuses an unprivileged gid_map otherwise, and it keeps
 * the app from dropping supplementary groups that deny it access to host files. */
static void write_id_maps(unsigned long inside_uid, unsigned long outside_uid,
			  unsigned long inside_gid, unsigned long outside_gid)
{
	char map[64];
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof map, "%lu %lu 1", inside_uid, outside_uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof map, "%lu %lu 1", inside_gid, outside_gid);
	write_file("/proc/self/gid_map", map);
}

/* A new mount namespace; for an unprivileged caller inside a new user namespace in
 * which the caller is root, so that it may mount (tmpfs, overlay with userxattr, binds). */
static void enter_namespaces(struct opts *o)
{
	if (!o->userns) {
		if (unshare(CLONE_NEWNS) < 0) {
			if (errno == EPERM)
				die("cannot create a mount namespace: %s (unprivileged caller: use --userns)",
				    strerror(errno));
			die_errno("cannot create a mount namespace", NULL, errno);
		}
		debug("unshare(CLONE_NEWNS)");
		return;
	}
	o->caller_uid = getuid();
	o->caller_gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		die_errno("cannot create a user and mount namespace", NULL, errno);
	write_id_maps(0, o->caller_uid, 0, o->caller_gid);
	debug("unshare(CLONE_NEWUSER|CLONE_NEWNS), mapped root to %lu:%lu",
	      (unsigned long)o->caller_uid, (unsigned long)o->caller_gid);
}

/* The copied mount tree still shares propagation with the host: make it private
 * first, so that no mount below ever appears on the host (and none vanishes there). */
static void make_mounts_private(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die_errno("cannot make mounts private", "/", errno);
	debug("mount --make-rprivate /");
}

/* Where things live: on the --mnt tmpfs, or given by the caller. */
struct layout {
	char root[PATH_MAX];  /* mnt/root: mount point of the new root */
	char probe[PATH_MAX]; /* mnt/probe: read-only view for --userns, see prepare_targets() */
	char upper[PATH_MAX]; /* mnt/upper, or --upper */
	char work[PATH_MAX];  /* mnt/work, or --work */
	bool use_probe;
};

static void join_path(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s%s%s", dir, name ? "/" : "", name ? name : "") >= size)
		die_errno("path too long", dir, ENAMETOOLONG);
}

static void plan_layout(const struct opts *o, struct layout *l)
{
	join_path(l->root, sizeof l->root, o->mnt, "root");
	join_path(l->probe, sizeof l->probe, o->mnt, "probe");
	join_path(l->upper, sizeof l->upper, o->upper ? o->upper : o->mnt, o->upper ? NULL : "upper");
	join_path(l->work, sizeof l->work, o->work ? o->work : o->mnt, o->work ? NULL : "work");
	l->use_probe = o->userns && !o->root && o->nbinds > 0;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0)
		die_errno("cannot create directory", path, errno);
}

/* A tmpfs on --mnt, private to this process: the per-run upper/work dirs and the
 * mount point of the new root live there and vanish with the namespace. Concurrent
 * runs may use the same --mnt: each sees only its own tmpfs. */
static void mount_scratch(const struct opts *o, const struct layout *l)
{
	if (mount("pilot", o->mnt, "tmpfs", 0, "mode=0755") < 0)
		die_errno("cannot mount tmpfs", o->mnt, errno);
	make_dir(l->root);
	/* upper's mode becomes the mode of "/" in the app: 0755 (umask is 0 here). */
	if (!o->upper && !o->root) {
		make_dir(l->upper);
		make_dir(l->work);
	}
	if (l->use_probe)
		make_dir(l->probe);
	debug("tmpfs on %s", o->mnt);
}

/*
 * ONE overlay mount composes the root: lower dirs from the store, a per-run upper
 * on the tmpfs (or the kept instance's --upper/--work). With probe, instead a
 * read-only overlay of the same tree (the upper as the topmost lower, if it is a
 * kept one with content) for prepare_targets().
 */
static void mount_overlay(const struct opts *o, const struct layout *l, bool probe)
{
	/* The kernel reads relative lowerdirs against our cwd: with 100+ layers, short
	 * names relative to --lowerdir-base keep the option string under one page. */
	if (o->lowerdir_base && chdir(o->lowerdir_base) < 0)
		die_errno("cannot change to --lowerdir-base", o->lowerdir_base, errno);
	/* index=off,metacopy=off: the usual kernel defaults, spelled out because a kernel
	 * built with index on ties a kept --upper to the exact lower layers (the mount
	 * verifies the upper's origin) and metacopy on is refused with userxattr.
	 * redirect_dir is left alone: "off" conflicts with userxattr (EINVAL), and the
	 * default (follow) never creates redirects. userxattr: an unprivileged overlay
	 * cannot use trusted.overlay.* xattrs, it reads and writes user.overlay.*. */
	static char data[8192];
	int len;
	if (probe)
		len = snprintf(data, sizeof data, "lowerdir=%s%s%s,metacopy=off,userxattr",
			       o->upper ? l->upper : "", o->upper ? ":" : "", o->lowerdir);
	else
		len = snprintf(data, sizeof data,
			       "lowerdir=%s,upperdir=%s,workdir=%s,index=off,metacopy=off%s",
			       o->lowerdir, l->upper, l->work, o->userns ? ",userxattr" : "");
	/* mount(2) copies at most one page of options. */
	if (len < 0 || len >= 4096)
		die("overlay options too long (%d bytes, the kernel takes < 4096): use "
		    "--lowerdir-base with short names", len);
	const char *target = probe ? l->probe : l->root;
	if (mount("pilot", target, "overlay", probe ? MS_RDONLY : 0, data) < 0) {
		int err = errno;
		debug("overlay options: %s", data);
		die_errno("cannot mount overlay", target, err);
	}
	debug("overlay on %s (%d bytes of options)", target, len);
}

/* --root: an already-composed root, bind-mounted (recursively: in a user namespace
 * a mount with locked submounts may only be bound with them) onto mnt/root. */
static void mount_given_root(const struct opts *o, const struct layout *l)
{
	int tree = sys_open_tree(AT_FDCWD, o->root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		die_errno("cannot bind --root", o->root, errno);
	int to = open(l->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (to < 0)
		die_errno("cannot open", l->root, errno);
	if (sys_move_mount(tree, to) < 0)
		die_errno("cannot bind --root", o->root, errno);
	close(tree);
	close(to);
	debug("bind %s on %s", o->root, l->root);
}

/* State for resolving bind targets inside the new root. */
struct newroot {
	int fd;              /* O_PATH fd of the merged root */
	uint64_t mnt_id;     /* its mount id: creations must land on this mount only */
	bool read_only_tree; /* --root: a host directory, never written to */
};

/* Bind targets that need a mount point created in the upper dir (--userns). */
struct pending {
	const char **dst;
	bool *want_dir;
	size_t n;
};

static uint64_t mount_id_of(int fd, const char *what)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
		die_errno("cannot statx", what, errno);
	if (!(stx.stx_mask & STATX_MNT_ID))
		die("kernel does not report mount ids (need Linux >= 5.8)");
	return stx.stx_mnt_id;
}

static void open_newroot(struct newroot *nr, const char *path, bool read_only_tree)
{
	nr->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nr->fd < 0)
		die_errno("cannot open new root", path, errno);
	nr->mnt_id = mount_id_of(nr->fd, path);
	nr->read_only_tree = read_only_tree;
}

/* Mount points may be created (and a symlink at the last component replaced) only
 * in the image's own upper dir. Refuse when the parent is inside an earlier bind
 * (that would create files on the host) or the root is a --root host directory. */
static void check_creatable(const struct newroot *nr, int parent, const char *dst)
{
	if (nr->read_only_tree)
		die("bind target: %s: missing or a symlink in the --root tree "
		    "(pilot-exec never writes to a --root tree; create the mount point there)", dst);
	if (mount_id_of(parent, dst) != nr->mnt_id)
		die("bind target: %s: would be created inside an earlier bind, i.e. on the host; "
		    "create the mount point in the image or on the host first", dst);
}

static void defer_creation(struct pending *pend, const char *dst, bool want_dir)
{
	pend->dst[pend->n] = dst;
	pend->want_dir[pend->n++] = want_dir;
	debug("mount point %s: to be created in the upper dir", dst);
}

#define RESOLVE_INSIDE (RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)

/* Opens one existing component below dirfd, never through a symlink. */
static int open_component(int dirfd, const char *name, int flags)
{
	return sys_openat2(dirfd, name, (uint64_t)(flags | O_PATH | O_CLOEXEC), RESOLVE_INSIDE);
}

/* Splits a bind target into its components (no "", no "."; ".." was refused). */
static size_t split_target(const char *dst, char *buf, char **comp)
{
	if (snprintf(buf, PATH_MAX, "%s", dst) >= PATH_MAX)
		die_errno("bind target too long", dst, ENAMETOOLONG);
	size_t n = 0;
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (strcmp(c, ".") != 0)
			comp[n++] = c;
	return n;
}

/* An empty directory or an empty file to mount on; an existing one is fine. */
static int create_placeholder(int dirfd, const char *name, bool want_dir, mode_t dir_mode)
{
	if (want_dir)
		return mkdirat(dirfd, name, dir_mode) < 0 && errno != EEXIST ? -1 : 0;
	int f = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f < 0)
		return errno == EEXIST ? 0 : -1;
	close(f);
	return 0;
}

static void close_unless(int fd, int keep)
{
	if (fd >= 0 && fd != keep)
		close(fd);
}

static _Noreturn void die_symlink_component(const char *dst, char **comp, size_t k)
{
	char prefix[PATH_MAX] = "";
	size_t len = 0;
	for (size_t j = 0; j <= k && len < sizeof prefix; j++)
		len += (size_t)snprintf(prefix + len, sizeof prefix - len, "/%s", comp[j]);
	die("bind target: %s: component %s is a symlink in the image; refusing to follow it "
	    "(before chroot it would resolve on the host)", dst, prefix);
}

/*
 * Resolves bind target DST inside the new root and returns an O_PATH fd on it.
 * Kernel rule respected: a symlink in the merged tree must never be followed here,
 * because at this point (before chroot) it would resolve against the HOST root and
 * the bind would land on a host path. So DST is walked one component at a time with
 * openat2(RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH): an intermediate symlink is refused,
 * a symlink as the last component is replaced by a placeholder (e.g. Debian's
 * /etc/resolv.conf). Missing components are created: directories, and for the last
 * component a directory or an empty file to match SRC. In the overlay all of this
 * lands in the upper dir. With pend (the read-only probe of prepare_targets()),
 * nothing is created: the target is noted in pend and -1 returned.
 */
static int resolve_target(const struct newroot *nr, const char *dst, bool want_dir,
			  struct pending *pend)
{
	char buf[PATH_MAX];
	char *comp[PATH_MAX / 2];
	size_t ncomp = split_target(dst, buf, comp);
	int cur = nr->fd, fd;
	struct stat st;

	for (size_t k = 0; k + 1 < ncomp; k++) {
		fd = open_component(cur, comp[k], O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			check_creatable(nr, cur, dst);
			if (pend)
				goto deferred;
			if (create_placeholder(cur, comp[k], true, 0755) < 0)
				die_errno("cannot create bind target directory", dst, errno);
			fd = open_component(cur, comp[k], O_DIRECTORY);
		}
		if (fd < 0 && errno == ELOOP)
			die_symlink_component(dst, comp, k);
		if (fd < 0)
			die_errno("cannot open bind target", dst, errno);
		close_unless(cur, nr->fd);
		cur = fd;
	}

	const char *last = comp[ncomp - 1];
	/* O_NOFOLLOW with O_PATH: a symlink is returned as itself, not refused. */
	fd = open_component(cur, last, O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) < 0)
		die_errno("cannot stat bind target", dst, errno);
	if (fd >= 0 && S_ISLNK(st.st_mode)) {
		check_creatable(nr, cur, dst);
		close(fd);
		if (pend)
			goto deferred;
		/* In the overlay this only puts a whiteout into the upper dir. */
		if (unlinkat(cur, last, 0) < 0)
			die_errno("cannot replace the symlink at bind target", dst, errno);
		debug("replaced symlink %s by a mount point", dst);
		fd = -1;
		errno = ENOENT;
	}
	if (fd < 0 && errno == ENOENT) {
		check_creatable(nr, cur, dst);
		if (pend)
			goto deferred;
		if (create_placeholder(cur, last, want_dir, 0755) < 0)
			die_errno("cannot create bind target", dst, errno);
		fd = open_component(cur, last, O_NOFOLLOW);
		if (fd >= 0 && fstat(fd, &st) < 0)
			die_errno("cannot stat bind target", dst, errno);
	}
	if (fd < 0)
		die_errno("cannot open bind target", dst, errno);
	close_unless(cur, nr->fd);
	if (S_ISLNK(st.st_mode))
		die("bind target: %s: is a symlink (it came back)", dst);
	if (want_dir && !S_ISDIR(st.st_mode))
		die("bind target: %s: source is a directory, target is not", dst);
	if (!want_dir && S_ISDIR(st.st_mode))
		die("bind target: %s: target is a directory, source is not", dst);
	return fd;

deferred:
	defer_creation(pend, dst, want_dir);
	close_unless(cur, nr->fd);
	return -1;
}

/*
 * Creates the mount point DST in the upper dir (before the overlay is mounted):
 * missing directories with the mode the probe shows for them, the last component as
 * a directory or an empty file. The overlay then merges them with the lower dirs: an
 * upper dir without the opaque xattr is merged, an upper file hides a lower symlink.
 */
static void create_in_upper(int upperfd, int probefd, const char *dst, bool want_dir)
{
	char buf[PATH_MAX];
	char *comp[PATH_MAX / 2];
	size_t ncomp = split_target(dst, buf, comp);
	int up = upperfd, view = probefd;
	struct stat st;

	for (size_t k = 0; k + 1 < ncomp; k++) {
		int vfd = view >= 0 ? open_component(view, comp[k], O_DIRECTORY) : -1;
		mode_t mode = vfd >= 0 && fstat(vfd, &st) == 0 ? st.st_mode & 07777 : 0755;
		if (create_placeholder(up, comp[k], true, mode) < 0)
			die_errno("cannot create mount point in the upper dir", dst, errno);
		int ufd = open_component(up, comp[k], O_DIRECTORY);
		if (ufd < 0) /* e.g. a whiteout of a kept --upper: refuse, do not guess */
			die_errno("cannot open mount point in the upper dir", dst, errno);
		close_unless(up, upperfd);
		close_unless(view, probefd);
		up = ufd;
		view = vfd;
	}
	const char *last = comp[ncomp - 1];
	int fd = open_component(up, last, O_NOFOLLOW);
	if (fd >= 0) {
		/* A kept --upper may hold a symlink of its own there. */
		if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) && unlinkat(up, last, 0) < 0)
			die_errno("cannot replace the symlink in the upper dir", dst, errno);
		close(fd);
	}
	if (create_placeholder(up, last, want_dir, 0755) < 0)
		die_errno("cannot create mount point in the upper dir", dst, errno);
	close_unless(up, upperfd);
	close_unless(view, probefd);
	debug("created mount point %s in the upper dir", dst);
}

/*
 * --userns only, before the real overlay is mounted. Over root-owned layers the
 * merged tree refuses to create mount points: their directories belong to host
 * root, which is not mapped in our user namespace, so even our namespace root may
 * not write there (EACCES), and copy-up cannot chown to it (EOVERFLOW). The upper
 * dir is ours, though. So: mount a read-only probe of the same tree, resolve every
 * bind target in it (same symlink rules), create what is missing in the upper dir,
 * and only then mount the real overlay. (Mounting the real overlay twice instead
 * would need an umount, which waits for an RCU grace period: 1-2 ms here.) The
 * probe stays mounted outside the new root and vanishes with the namespace.
 * Root runs skip this: root may create anywhere in the merged tree.
 */
static void prepare_targets(const struct opts *o, const struct layout *l)
{
	mount_overlay(o, l, true);
	struct newroot probe;
	open_newroot(&probe, l->probe, false);
	struct pending pend = {
		.dst = xcalloc(o->nbinds, sizeof *pend.dst),
		.want_dir = xcalloc(o->nbinds, sizeof *pend.want_dir),
	};
	for (size_t i = 0; i < o->nbinds; i++) {
		struct stat st;
		if (stat(o->binds[i].src, &st) < 0)
			continue; /* do_bind() skips or reports it */
		close_unless(resolve_target(&probe, o->binds[i].dst, S_ISDIR(st.st_mode), &pend), -1);
	}
	if (pend.n) {
		int upperfd = open(l->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (upperfd < 0)
			die_errno("cannot open upper dir", l->upper, errno);
		for (size_t i = 0; i < pend.n; i++)
			create_in_upper(upperfd, probe.fd, pend.dst[i], pend.want_dir[i]);
		close(upperfd);
	}
	close(probe.fd);
	free(pend.dst);
	free(pend.want_dir);
}

/*
 * One --bind/--rbind/--bind-ro. SRC is a host path (resolved normally: before the
 * chroot, so host symlinks like /etc/resolv.conf -> /run/... work). The mount is
 * cloned with open_tree() and attached with move_mount() onto the fd from
 * resolve_target(), so the target is exactly the inode that was checked (no second
 * path lookup, no /proc needed). --bind-ro sets MOUNT_ATTR_RDONLY on the detached
 * clone only; it keeps the flags a user namespace locks (nosuid, nodev...).
 */
static void do_bind(const struct newroot *nr, const struct bind *b)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (b->kind == RBIND ? AT_RECURSIVE : 0);
	int tree = sys_open_tree(AT_FDCWD, b->src, flags);
	if (tree < 0) {
		if (b->optional && (errno == ENOENT || errno == ENOTDIR)) {
			debug("skip missing %s", b->src);
			return;
		}
		if (errno == EINVAL && b->kind != RBIND)
			die("cannot bind %s: %s (it has submounts locked by the user namespace: use --rbind)",
			    b->src, strerror(errno));
		die_errno("cannot bind source", b->src, errno);
	}
	struct stat st;
	if (fstat(tree, &st) < 0)
		die_errno("cannot stat bind source", b->src, errno);
	int to = resolve_target(nr, b->dst, S_ISDIR(st.st_mode), NULL);
	if (b->kind == BIND_RO && sys_mount_setattr_rdonly(tree) < 0)
		die_errno("cannot make bind read-only", b->src, errno);
	if (sys_move_mount(tree, to) < 0)
		die_errno("cannot bind", b->dst, errno);
	close(tree);
	close(to);
	debug("%s %s on %s", b->kind == RBIND ? "rbind" : b->kind == BIND_RO ? "bind-ro" : "bind",
	      b->src, b->dst);
}

/* All binds, in command-line order (a later target may lie inside an earlier one). */
static void do_binds(const struct opts *o, const struct layout *l)
{
	struct newroot nr;
	open_newroot(&nr, l->root, o->root != NULL && !o->root_mutable);
	for (size_t i = 0; i < o->nbinds; i++)
		do_bind(&nr, &o->binds[i]);
	close(nr.fd);
}

/*
 * --userns: a second user namespace that maps the caller back to itself, so the app
 * runs with the caller's uid/gid (and files it creates belong to the caller), not
 * as root of the first namespace. Kernel rule: unshare(CLONE_NEWUSER) fails with
 * EPERM in a chrooted process, so this happens BEFORE chroot; all mounts are done
 * by now (the new namespace does not own the mount namespace: it could not mount).
 * The full capability set it grants in the new namespace is enough for chroot(2)
 * and is cleared by execve, because the uid there is not 0.
 */
static void enter_caller_userns(const struct opts *o)
{
	if (unshare(CLONE_NEWUSER) < 0)
		die_errno("cannot create the inner user namespace", NULL, errno);
	write_id_maps(o->caller_uid, 0, o->caller_gid, 0);
	debug("unshare(CLONE_NEWUSER), mapped %lu:%lu back", (unsigned long)o->caller_uid,
	      (unsigned long)o->caller_gid);
}

/* chroot into the composed root and change to --cwd inside it (a symlink in --cwd
 * now resolves inside the new root, as the app would see it). */
static void enter_root(const struct opts *o, const struct layout *l)
{
	if (chroot(l->root) < 0)
		die_errno("cannot chroot", l->root, errno);
	if (chdir(o->cwd) < 0)
		die_errno("cannot change to working directory", o->cwd, errno);
	debug("chroot %s, cwd %s", l->root, o->cwd);
}

/* Root caller with --uid/--gid: supplementary groups first, then gid, then uid
 * (after setuid we could not change the others). setuid from 0 clears all caps. */
static void drop_ids(const struct opts *o)
{
	if (!o->have_uid)
		return;
	if (o->have_groups ? setgroups(o->ngroups, o->groups) < 0 : setgroups(1, &o->gid) < 0)
		die_errno("cannot set supplementary groups", NULL, errno);
	if (setgid(o->gid) < 0)
		die_errno("cannot set gid", NULL, errno);
	if (setuid(o->uid) < 0)
		die_errno("cannot set uid", NULL, errno);
	debug("uid %lu gid %lu", (unsigned long)o->uid, (unsigned long)o->gid);
}

/* --setenv/--unsetenv in command-line order: later wins. */
static void apply_env(const struct opts *o)
{
	for (size_t i = 0; i < o->nenv; i++) {
		const char *a = o->env[i].arg;
		if (!o->env[i].set) {
			unsetenv(a);
			continue;
		}
		size_t klen = strcspn(a, "=");
		char *key = strndup(a, klen);
		if (!key)
			die_errno("out of memory", NULL, ENOMEM);
		if (setenv(key, a + klen + 1, 1) < 0)
			die_errno("cannot set environment", key, errno);
		free(key);
	}
}

/* execvp in place: from here on this process IS the app. PATH is the one after
 * --setenv, looked up inside the new root. */
static _Noreturn void exec_program(const struct opts *o)
{
	debug("exec %s", o->argv[0]);
	execvp(o->argv[0], o->argv);
	int err = errno;
	if (err == ENOENT) {
		/* A program that exists but whose interpreter (ELF loader, #!) is missing
		 * also gives ENOENT: say so, it is a different fix. */
		if (strchr(o->argv[0], '/') && access(o->argv[0], F_OK) == 0)
			fprintf(stderr, "pilot: %s: its interpreter is not found in the image\n",
				o->argv[0]);
		else
			fprintf(stderr, "pilot: %s: not found in the image\n", o->argv[0]);
		exit(EXIT_NOT_FOUND);
	}
	fprintf(stderr, "pilot: %s: %s\n", o->argv[0], strerror(err));
	exit(EXIT_CANNOT_EXEC);
}

/* Called by main() in stub.c: as `pilot-exec`, or by the warm-path stub with the
 * command line it built from a plan. */
int exec_main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	struct opts o = { 0 };
	parse_args(argc, argv, &o);
	debug_on = o.debug;
	debug("parsed options");

	static struct layout l;
	plan_layout(&o, &l);
	/* Creations below use explicit modes (0755 dirs, 0644 files): a caller's umask
	 * such as 077 would make placeholder dirs untraversable for the app's uid. */
	mode_t saved_umask = umask(0);

	enter_namespaces(&o);
	make_mounts_private();
	mount_scratch(&o, &l);
	if (o.root) {
		mount_given_root(&o, &l);
	} else {
		if (l.use_probe)
			prepare_targets(&o, &l);
		mount_overlay(&o, &l, false);
	}
	do_binds(&o, &l);
	if (o.userns)
		enter_caller_userns(&o);
	enter_root(&o, &l);
	drop_ids(&o);
	umask(saved_umask);
	apply_env(&o);
	exec_program(&o);
}
