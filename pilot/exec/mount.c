/* The new root's mounts: a private tmpfs, then one overlay or a bound --root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"
#include "mount.h"
#include "util.h"

struct pe_open_how { uint64_t flags, mode, resolve; };
struct pe_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct pe_open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int sys_open_tree(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int sys_move_mount(int from_fd, int to_fd)
{
	return (int)syscall(SYS_move_mount, from_fd, "", to_fd, "",
			    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int sys_mount_setattr(int fd, unsigned flags, uint64_t attrs)
{
	struct pe_mount_attr attr = { .attr_set = attrs };
	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr);
}

int sys_fsopen(const char *fs, unsigned flags)
{
	return (int)syscall(SYS_fsopen, fs, flags);
}

int sys_fsconfig(int fd, unsigned cmd, const char *key, const char *value)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, value, 0);
}

int sys_fsmount(int fd, unsigned flags, unsigned attrs)
{
	return (int)syscall(SYS_fsmount, fd, flags, attrs);
}

/* The copied mount tree still shares propagation with the host: make it private
 * first, so that no mount below ever appears on the host (and none vanishes there). */
void make_mounts_private(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die_errno("cannot make mounts private", "/", errno);
	debug("mount --make-rprivate /");
}

static void join_path(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s%s%s", dir, name ? "/" : "", name ? name : "") >= size)
		die_errno("path too long", dir, ENAMETOOLONG);
}

void plan_layout(const struct opts *o, struct layout *l)
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
void mount_scratch(const struct opts *o, const struct layout *l)
{
	/* --upper-size: the per-call upper is the only thing of any size on it. */
	char data[64] = "mode=0755";
	if (o->upper_size)
		snprintf(data, sizeof data, "mode=0755,size=%s", o->upper_size);
	if (mount("pilot", o->mnt, "tmpfs", 0, data) < 0)
		die_errno("cannot mount tmpfs", o->mnt, errno);
	make_dir(l->root);
	/* upper's mode becomes the mode of "/" in the app: 0755 (umask is 0 here). */
	if (!o->upper && !o->root) {
		make_dir(l->upper);
		make_dir(l->work);
		/* An unprivileged overlay keeps its opaque marks in user.overlay.* xattrs of
		 * this upper; tmpfs has user.* xattrs since Linux 6.6. Without them the kernel
		 * mounts anyway and refuses only what needs a mark: the app cannot create a
		 * directory again where it removed one of the image's (EIO). */
		if (o->userns && !has_user_xattrs(o, l->work))
			debug("per-call upper without user.* xattrs: a directory of the image that "
			      "the app removes cannot be created again in this call");
	}
	if (l->use_probe)
		make_dir(l->probe);
	debug("tmpfs on %s", o->mnt);
}

/* The lower dirs of one overlay, top first: with probe, the upper dir is the topmost. */
static size_t split_lowers(const struct opts *o, const struct layout *l, bool probe, char **out,
			   size_t max, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s", o->lowerdir) >= size)
		die_errno("--lowerdir too long", o->lowerdir, ENAMETOOLONG);
	size_t n = 0;
	if (probe)
		out[n++] = (char *)l->upper;
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (n == max)
			die("overlay: more than %zu lower dirs (overlayfs stacks at most 500)", max - 1);
		out[n++] = d;
	}
	return n;
}

static void set_overlay(int fs, const char *key, const char *value, const char *target)
{
	unsigned cmd = value ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG;
	if (sys_fsconfig(fs, cmd, key, value) < 0) {
		int err = errno;
		debug("overlay option %s%s%s refused", key, value ? "=" : "", value ? value : "");
		die_errno("cannot mount overlay", target, err);
	}
}

/*
 * The overlay through the new mount API, one `lowerdir+` per layer: for a list of lower
 * dirs that does not fit in mount(2)'s one page (kernel.h: Linux 6.8).
 */
static void mount_overlay_by_parts(const struct opts *o, const struct layout *l, bool probe,
				   const char *target)
{
	static char buf[1 << 16];
	static char *lowers[502];
	size_t n = split_lowers(o, l, probe, lowers, sizeof lowers / sizeof *lowers, buf, sizeof buf);
	int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		die_errno("cannot mount overlay", target, errno);
	for (size_t i = 0; i < n; i++)
		set_overlay(fs, "lowerdir+", lowers[i], target);
	if (!probe) {
		set_overlay(fs, "upperdir", l->upper, target);
		set_overlay(fs, "workdir", l->work, target);
		set_overlay(fs, "index", "off", target);
	}
	set_overlay(fs, "metacopy", "off", target);
	if (probe || o->userns)
		set_overlay(fs, "userxattr", NULL, target);
	if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL) < 0)
		die_errno("cannot mount overlay", target, errno);
	int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, probe ? MOUNT_ATTR_RDONLY : 0);
	if (mnt < 0)
		die_errno("cannot mount overlay", target, errno);
	close(fs);
	int to = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (to < 0)
		die_errno("cannot open", target, errno);
	if (sys_move_mount(mnt, to) < 0)
		die_errno("cannot mount overlay", target, errno);
	close(mnt);
	close(to);
	debug("overlay on %s (%zu lower dirs, lowerdir+)", target, n);
}

/*
 * ONE overlay mount composes the root: lower dirs from the store, a per-run upper
 * on the tmpfs (or the kept instance's --upper/--work). With probe, instead a
 * read-only overlay of the same tree for prepare_targets(), the upper as the topmost
 * lower: a kept one has content, a per-call one is empty but makes a second lower
 * (a read-only overlay of a single lower dir is refused, EINVAL).
 */
void mount_overlay(const struct opts *o, const struct layout *l, bool probe)
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
	static char data[1 << 16];
	int len;
	if (probe)
		len = snprintf(data, sizeof data, "lowerdir=%s:%s,metacopy=off,userxattr", l->upper,
			       o->lowerdir);
	else
		len = snprintf(data, sizeof data,
			       "lowerdir=%s,upperdir=%s,workdir=%s,index=off,metacopy=off%s",
			       o->lowerdir, l->upper, l->work, o->userns ? ",userxattr" : "");
	const char *target = probe ? l->probe : l->root;
	/* mount(2) copies at most one page of options; past that, lowerdir+ where the
	 * kernel has it (kernel.h), else the list does not fit on this kernel. */
	if (len < 0 || len >= 4096) {
		if (has_lowerdir_append(o)) {
			mount_overlay_by_parts(o, l, probe, target);
			return;
		}
		die("the app's layers do not fit in one overlay mount on this kernel (%d bytes of "
		    "options, mount(2) takes < 4096, and overlayfs has no lowerdir+ before Linux "
		    "6.8): squash some layers of the image",
		    len);
	}
	if (mount("pilot", target, "overlay", probe ? MS_RDONLY : 0, data) < 0) {
		int err = errno;
		debug("overlay options: %s", data);
		die_errno("cannot mount overlay", target, err);
	}
	debug("overlay on %s (%d bytes of options)", target, len);
}

/* --root: an already-composed root, bind-mounted (recursively: in a user namespace
 * a mount with locked submounts may only be bound with them) onto mnt/root. */
void mount_given_root(const struct opts *o, const struct layout *l)
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

/* --read-only: the new root's own mount only (not AT_RECURSIVE): the binds and tmpfs
 * mounts on it keep theirs. Mount points are all made by now. */
void make_root_read_only(const struct layout *l)
{
	int fd = open(l->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot open", l->root, errno);
	if (sys_mount_setattr(fd, 0, MOUNT_ATTR_RDONLY) < 0)
		die_errno("cannot make the root read-only", l->root, errno);
	close(fd);
	debug("root read-only");
}
