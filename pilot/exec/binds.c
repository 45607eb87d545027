/* Binds: each source's clone attached to its target, in command-line order. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binds.h"
#include "targets.h"
#include "tmpfs.h"
#include "util.h"

static int start_dir = -1;	/* open_start_dir() */
static bool start_deleted;	/* the start dir was removed (getcwd fails with ENOENT) */
static int cwd_tree = -1;	/* the --rbind-cwd mount, once bound */

void open_start_dir(void)
{
	/* After unshare(CLONE_NEWNS) our cwd is the same directory in the new namespace's
	 * copy of its mount, which open_tree() may clone (a descriptor from before would
	 * name the old namespace's mount, which it refuses). */
	start_dir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (start_dir < 0)
		debug("cannot open the working directory: %s", strerror(errno));
	/* getcwd() fails with ENOENT exactly when the kernel sees the directory unlinked. */
	char buf[PATH_MAX];
	start_deleted = start_dir >= 0 && !getcwd(buf, sizeof buf) && errno == ENOENT;
}

bool start_dir_deleted(void)
{
	return start_deleted;
}

void enter_cwd(const struct opts *o)
{
	if (cwd_tree >= 0) {
		if (fchdir(cwd_tree) < 0)
			die_errno("cannot change to working directory", o->cwd, errno);
		close(cwd_tree);
		cwd_tree = -1;
		return;
	}
	if (chdir(o->cwd) < 0)
		die_errno("cannot change to working directory", o->cwd, errno);
}

static const char *kind_name(enum bind_kind kind)
{
	static const char *const names[] = { "bind", "rbind", "bind-ro", "volume", "tmpfs" };
	return names[kind];
}

/*
 * One --bind/--rbind/--bind-ro/--volume/--tmpfs. SRC is a host path (resolved
 * normally: before the chroot, so host symlinks like /etc/resolv.conf -> /run/...
 * work). The mount is cloned with open_tree() (a tmpfs made by make_tmpfs()) and
 * attached with move_mount() onto the fd from resolve_target(), so the target is
 * exactly the inode that was checked (no second path lookup, no /proc needed).
 * --bind-ro and --volume set their attributes on the detached clone only; that keeps
 * the flags a user namespace locks (nosuid, nodev...).
 */
static void do_bind(const struct opts *o, const struct newroot *nr, const struct bind *b)
{
	bool recursive = b->kind == RBIND || b->kind == VOLUME;
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
	if (b->cwd && start_dir < 0)
		die("cannot bind the working directory: it cannot be opened");
	if (b->cwd && start_deleted) {
		/* The kernel attaches no mount whose root is an unlinked directory (ENOENT).
		 * The clone needs no place, though: the app works in it by descriptor, as in
		 * a deleted directory on the host (empty, getcwd() fails with ENOENT), and its
		 * ".." stays inside the clone instead of reaching the host's tree. */
		cwd_tree = sys_open_tree(start_dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
								  AT_EMPTY_PATH);
		if (cwd_tree < 0)
			die_errno("cannot hold on to the deleted working directory", b->dst, errno);
		debug("working directory %s was deleted: the app runs in it, unattached", b->dst);
		return;
	}
	int tree = b->kind == TMPFS ? make_tmpfs(b)
		   : b->cwd	    ? sys_open_tree(start_dir, "", flags | AT_EMPTY_PATH)
				    : sys_open_tree(AT_FDCWD, b->src, flags);
	if (tree < 0) {
		bool missing = errno == ENOENT || errno == ENOTDIR;
		if (missing && b->kind == VOLUME && !o->ignore_missing_volumes)
			die("volume %s: no such file or directory on the host; create it, or run the "
			    "app with %%ignore_missing_volume_path", b->src);
		if (missing && (b->optional || b->kind == VOLUME)) {
			debug("skip missing %s", b->src);
			return;
		}
		if (errno == EINVAL && !recursive)
			die("cannot bind %s: %s (it has submounts locked by the user namespace: use --rbind)",
			    b->src, strerror(errno));
		die_errno("cannot bind source", b->src, errno);
	}
	struct stat st;
	if (fstat(tree, &st) < 0)
		die_errno("cannot stat bind source", b->src, errno);
	int to = resolve_target(nr, b->dst, S_ISDIR(st.st_mode));
	if (b->kind == BIND_RO && sys_mount_setattr(tree, 0, MOUNT_ATTR_RDONLY) < 0)
		die_errno("cannot make bind read-only", b->src, errno);
	if (b->kind == VOLUME && b->attrs && sys_mount_setattr(tree, AT_RECURSIVE, b->attrs) < 0)
		die_errno("cannot set the flags of volume", b->src, errno);
	if (sys_move_mount(tree, to) < 0)
		die_errno("cannot bind", b->dst, errno);
	if (b->cwd)
		cwd_tree = tree; /* the bound directory's root: enter_cwd() goes there */
	else
		close(tree);
	close(to);
	debug("%s %s on %s", kind_name(b->kind), b->kind == TMPFS ? b->options : b->src, b->dst);
}

/* All binds, in command-line order (a later target may lie inside an earlier one). */
void do_binds(const struct opts *o, const struct layout *l)
{
	struct newroot nr;
	open_newroot(&nr, l->root, o->root != NULL && !o->root_mutable);
	for (size_t i = 0; i < o->nbinds; i++)
		do_bind(o, &nr, &o->binds[i]);
	close(nr.fd);
}
