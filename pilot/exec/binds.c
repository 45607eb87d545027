/* Binds: each source's clone attached to its target, in command-line order. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binds.h"
#include "targets.h"
#include "util.h"

static int start_dir = -1; /* open_start_dir() */
static int cwd_tree = -1;  /* the --rbind-cwd mount, once bound */

void open_start_dir(void)
{
	/* After unshare(CLONE_NEWNS) our cwd is the same directory in the new namespace's
	 * copy of its mount, which open_tree() may clone (a descriptor from before would
	 * name the old namespace's mount, which it refuses). */
	start_dir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (start_dir < 0)
		debug("cannot open the working directory: %s", strerror(errno));
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
	if (b->cwd && start_dir < 0)
		die("cannot bind the working directory: it cannot be opened");
	int tree = b->cwd ? sys_open_tree(start_dir, "", flags | AT_EMPTY_PATH)
			  : sys_open_tree(AT_FDCWD, b->src, flags);
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
	int to = resolve_target(nr, b->dst, S_ISDIR(st.st_mode));
	if (b->kind == BIND_RO && sys_mount_setattr_rdonly(tree) < 0)
		die_errno("cannot make bind read-only", b->src, errno);
	if (sys_move_mount(tree, to) < 0)
		die_errno("cannot bind", b->dst, errno);
	if (b->cwd)
		cwd_tree = tree; /* the bound directory's root: enter_cwd() goes there */
	else
		close(tree);
	close(to);
	debug("%s %s on %s", b->kind == RBIND ? "rbind" : b->kind == BIND_RO ? "bind-ro" : "bind",
	      b->src, b->dst);
}

/* All binds, in command-line order (a later target may lie inside an earlier one). */
void do_binds(const struct opts *o, const struct layout *l)
{
	struct newroot nr;
	open_newroot(&nr, l->root, o->root != NULL && !o->root_mutable);
	for (size_t i = 0; i < o->nbinds; i++)
		do_bind(&nr, &o->binds[i]);
	close(nr.fd);
}
