/*
 * pilot-exec --build-tree DIR: builds a host layer in DIR (a fresh staging dir)
 * from a list of operations the Node launcher planned. Node 20 has no *at system
 * calls, and the list comes from image data (/removed, /systemfiles) that nobody
 * here wrote, so every step is done here, relative to descriptors:
 *
 *  - inside DIR, parents are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 *    | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) and the last component is created
 *    with a call that never follows it: nothing outside DIR is created, changed or
 *    linked, whatever the list says (a symlink made by an earlier entry is never
 *    entered);
 *  - a host file is opened once, O_NOFOLLOW on its last component, following the
 *    host's ordinary symlinks in its parents (merged /usr needs them) but no magic
 *    link, and never on /proc, /sys or /dev; what is linked or copied is that open
 *    file, checked with fstat(2), not a path looked up again;
 *  - canonical permissions (DESIGN.md, Trust): as root, everything is owned by root,
 *    no mode keeps setuid, setgid, sticky or group/other write. A host file is hard
 *    linked only when it already is so (owned by the builder, none of those bits, no
 *    file capabilities); anything else is copied and canonicalised, so that a link
 *    never hands out a setuid program or pins its old inode after an upgrade.
 *
 * Operations on stdin, NUL-separated words:
 *   dir REL MODE          a directory (MODE octal, canonicalised)
 *   file REL SOURCE       host file SOURCE (absolute) at REL: link or copy
 *   symlink REL TARGET    a symlink (TARGET is text: it resolves inside the app's root)
 * REL is relative to DIR, without empty, "." or ".." components; parents come first.
 * --public: a host file that others cannot read is skipped (a layer every caller uses).
 * --host-root ROOT: host paths are looked up inside ROOT (tests).
 *
 * Host files that cannot be provided are reported on stdout as NUL-separated
 * "skip REASON SOURCE" (REASON: missing, unreadable, private, not-regular,
 * special-fs); anything else wrong is fatal, exit 125 with a message naming the entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount.h"
#include "tree.h"
#include "util.h"

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define DEVPTS_SUPER_MAGIC 0x1cd1

struct tree {
	int dir;      /* the staging dir */
	dev_t dev;    /* its file system: hard links only within it */
	int host;     /* --host-root, or AT_FDCWD for / */
	const char *host_root;
	bool as_root; /* canonical owner: root */
	bool public_only;
};

static void report_skip(const char *reason, const char *source)
{
	fwrite("skip", 1, 5, stdout);
	fwrite(reason, 1, strlen(reason) + 1, stdout);
	fwrite(source, 1, strlen(source) + 1, stdout);
}

/* REL must name something strictly inside DIR. */
static void check_rel(const char *rel)
{
	if (rel[0] == '\0' || rel[0] == '/')
		die("host layer: entry \"%s\" is not a relative path", rel);
	for (const char *p = rel; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			die("host layer: entry \"%s\" has an empty, \".\" or \"..\" component", rel);
		p += len;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			die("host layer: entry \"%s\" ends with a slash", rel);
	}
}

/* The parent of REL inside DIR, opened without following any symlink; *name is the last component. */
static int open_parent(const struct tree *t, const char *rel, const char **name)
{
	check_rel(rel);
	const char *slash = strrchr(rel, '/');
	if (!slash) {
		*name = rel;
		int fd = dup(t->dir);
		if (fd < 0)
			die_errno("host layer: dup", NULL, errno);
		return fd;
	}
	*name = slash + 1;
	char *parent = xstrndup(rel, (size_t)(slash - rel));
	int fd = sys_openat2(t->dir, parent, O_PATH | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				     RESOLVE_NO_XDEV);
	if (fd < 0) {
		int err = errno;
		if (err == ELOOP || err == EXDEV || err == ENOTDIR)
			die("host layer: entry \"%s\" lies below a symlink or outside the layer; "
			    "a path below a listed symlink cannot be provided",
			    rel);
		die_errno("host layer: cannot open the parent of", rel, err);
	}
	free(parent);
	return fd;
}

/* Directories: owner rwx kept, group and others at most r-x, no special bits. */
static mode_t canonical_dir_mode(mode_t mode)
{
	return mode & 0755;
}

/* A copy owned by root stands for a file whose group is not root's: the group gets
 * no more than others had. */
static mode_t canonical_copy_mode(mode_t mode)
{
	return (mode & 0700) | ((mode & 05) << 3) | (mode & 05);
}

static void set_owner(const struct tree *t, int fd, const char *rel)
{
	if (t->as_root && fchown(fd, 0, 0) < 0)
		die_errno("host layer: cannot chown", rel, errno);
}

static void op_dir(const struct tree *t, const char *rel, const char *mode_text)
{
	char *end;
	unsigned long mode = strtoul(mode_text, &end, 8);
	if (*end || end == mode_text || mode > 07777)
		die("host layer: entry \"%s\": bad mode \"%s\"", rel, mode_text);
	const char *name;
	int parent = open_parent(t, rel, &name);
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		die_errno("host layer: cannot create directory", rel, errno);
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die_errno("host layer: cannot open directory", rel, errno);
	set_owner(t, fd, rel);
	if (fchmod(fd, canonical_dir_mode((mode_t)mode)) < 0)
		die_errno("host layer: cannot chmod", rel, errno);
	close(fd);
	close(parent);
}

static void op_symlink(const struct tree *t, const char *rel, const char *target)
{
	const char *name;
	int parent = open_parent(t, rel, &name);
	if (symlinkat(target, parent, name) < 0)
		die_errno("host layer: cannot create symlink", rel, errno);
	if (t->as_root && fchownat(parent, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		die_errno("host layer: cannot chown", rel, errno);
	close(parent);
}

/* Is the open file on /proc, /sys or /dev (by file system, and by the path the kernel gives)? */
static bool on_special_fs(const struct tree *t, int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) == 0 &&
	    (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC || sf.f_type == DEVPTS_SUPER_MAGIC))
		return true;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return true; /* cannot tell: refuse */
	path[n] = '\0';
	const char *rest = path;
	size_t root_len = t->host_root ? strlen(t->host_root) : 0;
	if (root_len > 0) {
		if (strncmp(path, t->host_root, root_len) != 0 || (path[root_len] != '/' && path[root_len]))
			return true; /* outside the host root */
		rest = path + root_len;
	}
	static const char *const special[] = { "/proc", "/sys", "/dev" };
	for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
		size_t len = strlen(special[i]);
		if (strncmp(rest, special[i], len) == 0 && (rest[len] == '/' || rest[len] == '\0'))
			return true;
	}
	return false;
}

/* The host file, opened once; -1 (and a report) when it cannot be provided. */
static int open_host_file(const struct tree *t, const char *source, struct stat *st)
{
	if (source[0] != '/')
		die("host layer: host path \"%s\" is not absolute", source);
	const char *path = t->host_root ? source + 1 : source;
	uint64_t resolve = RESOLVE_NO_MAGICLINKS | (t->host_root ? RESOLVE_IN_ROOT : 0);
	int fd = sys_openat2(t->host, *path ? path : ".",
			     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, resolve);
	if (fd < 0) {
		int err = errno;
		report_skip(err == EACCES || err == EPERM ? "unreadable"
			    : err == ELOOP || err == ENXIO ? "not-regular"
							   : "missing",
			    source);
		return -1;
	}
	const char *why = NULL;
	if (fstat(fd, st) < 0)
		die_errno("host layer: cannot stat", source, errno);
	if (!S_ISREG(st->st_mode))
		why = "not-regular";
	else if (on_special_fs(t, fd))
		why = "special-fs";
	else if (t->public_only && !(st->st_mode & S_IROTH))
		why = "private";
	if (why) {
		report_skip(why, source);
		close(fd);
		return -1;
	}
	return fd;
}

static bool has_capabilities(int fd)
{
	return fgetxattr(fd, "security.capability", NULL, 0) >= 0;
}

static bool linkable(const struct tree *t, int fd, const struct stat *st)
{
	return st->st_dev == t->dev && st->st_uid == geteuid() &&
	       !(st->st_mode & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH)) &&
	       !has_capabilities(fd);
}

/*
 * Writes all of buf, or dies. A write that returns short (the disk filled up after a
 * part) sets no errno: the next one says why, so a full disk reads as ENOSPC.
 */
static void write_all(int fd, const char *buf, size_t len, const char *rel)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die_errno("host layer: cannot copy", rel, errno);
		if (w == 0)
			die_errno("host layer: cannot copy", rel, ENOSPC);
		buf += w;
		len -= (size_t)w;
	}
}

static void copy_file(const struct tree *t, int src, const struct stat *st, int parent,
		      const char *name, const char *rel)
{
	int dst = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		die_errno("host layer: cannot create", rel, errno);
	for (;;) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			char buf[1 << 16];
			ssize_t r;
			while ((r = read(src, buf, sizeof buf)) != 0) {
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					die_errno("host layer: cannot copy", rel, errno);
				write_all(dst, buf, (size_t)r, rel);
			}
			break;
		}
		if (n < 0)
			die_errno("host layer: cannot copy", rel, errno);
		if (n == 0)
			break;
	}
	set_owner(t, dst, rel);
	if (fchmod(dst, canonical_copy_mode(st->st_mode)) < 0)
		die_errno("host layer: cannot chmod", rel, errno);
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	futimens(dst, times);
	close(dst);
}

static void op_file(const struct tree *t, const char *rel, const char *source)
{
	const char *name;
	int parent = open_parent(t, rel, &name);
	struct stat st;
	int src = open_host_file(t, source, &st);
	if (src < 0) {
		close(parent);
		return;
	}
	bool linked = false;
	if (linkable(t, src, &st)) {
		char link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", src);
		if (linkat(AT_FDCWD, link, parent, name, AT_SYMLINK_FOLLOW) == 0)
			linked = true;
		else if (errno != EXDEV && errno != EPERM && errno != EACCES)
			die_errno("host layer: cannot link", rel, errno);
	}
	if (!linked)
		copy_file(t, src, &st, parent, name, rel);
	close(src);
	close(parent);
}

int tree_main(int argc, char **argv)
{
	struct tree t = { .host = AT_FDCWD, .as_root = geteuid() == 0 };
	const char *dir = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--public") == 0)
			t.public_only = true;
		else if (strcmp(argv[i], "--host-root") == 0 && i + 1 < argc)
			t.host_root = argv[++i];
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			die("usage: pilot-exec --build-tree DIR [--public] [--host-root ROOT] < OPERATIONS");
	}
	if (!dir)
		die("usage: pilot-exec --build-tree DIR [--public] [--host-root ROOT] < OPERATIONS");
	t.dir = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t.dir < 0)
		die_errno("host layer: cannot open", dir, errno);
	struct stat st;
	if (fstat(t.dir, &st) < 0)
		die_errno("host layer: cannot stat", dir, errno);
	t.dev = st.st_dev;
	if (t.host_root) {
		if (strcmp(t.host_root, "/") == 0) {
			t.host_root = NULL;
		} else {
			t.host = open(t.host_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (t.host < 0)
				die_errno("host layer: cannot open the host root", t.host_root, errno);
		}
	}
	/* Whatever the list says, nothing created here is writable by others. */
	umask(022);

	struct words ops = { 0 };
	read_fd_words(STDIN_FILENO, ARGV_FD_MAX_SIZE, &ops, "host layer operations");
	for (size_t i = 0; i < ops.n;) {
		const char *op = ops.v[i];
		if (i + 2 >= ops.n)
			die("host layer: operation \"%s\" is missing its arguments", op);
		const char *rel = ops.v[i + 1];
		if (strcmp(op, "dir") == 0)
			op_dir(&t, rel, ops.v[i + 2]);
		else if (strcmp(op, "file") == 0)
			op_file(&t, rel, ops.v[i + 2]);
		else if (strcmp(op, "symlink") == 0)
			op_symlink(&t, rel, ops.v[i + 2]);
		else
			die("host layer: unknown operation \"%s\"", op);
		i += 3;
	}
	if (fflush(stdout) != 0)
		die_errno("host layer: cannot report", NULL, errno);
	return 0;
}
