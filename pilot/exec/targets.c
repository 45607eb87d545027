/* Mount targets: each resolved inside the new root without following a symlink, its
 * mount point created where that is safe (in the upper dir, for --userns beforehand). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binds.h"
#include "targets.h"
#include "util.h"

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

void open_newroot(struct newroot *nr, const char *path, bool read_only_tree)
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

void close_unless(int fd, int keep)
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
static int resolve_or_defer(const struct newroot *nr, const char *dst, bool want_dir,
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

int resolve_target(const struct newroot *nr, const char *dst, bool want_dir)
{
	return resolve_or_defer(nr, dst, want_dir, NULL);
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
void prepare_targets(const struct opts *o, const struct layout *l)
{
	mount_overlay(o, l, true);
	struct newroot probe;
	open_newroot(&probe, l->probe, false);
	struct pending pend = {
		.dst = xcalloc(o->nbinds, sizeof *pend.dst),
		.want_dir = xcalloc(o->nbinds, sizeof *pend.want_dir),
	};
	for (size_t i = 0; i < o->nbinds; i++) {
		const struct bind *b = &o->binds[i];
		struct stat st;
		if (b->cwd && start_dir_deleted())
			continue; /* no mount point: do_bind() keeps it unattached */
		if (b->kind != TMPFS && stat(b->src, &st) < 0)
			continue; /* do_bind() skips or reports it */
		bool want_dir = b->kind == TMPFS || S_ISDIR(st.st_mode);
		close_unless(resolve_or_defer(&probe, b->dst, want_dir, &pend), -1);
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
