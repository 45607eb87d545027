/* Composing the new root: the mount syscalls, where things live, tmpfs and overlay. */
#ifndef PILOT_MOUNT_H
#define PILOT_MOUNT_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "options.h"

/*
 * Kernel interfaces that glibc 2.36 declares only partly (and <linux/mount.h> clashes
 * with <sys/mount.h> there), so they are spelled out here and called via syscall() (mount.c).
 * Values are the kernel ABI (include/uapi/linux/{openat2,mount,fcntl}.h).
 */
#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV 0x01
#endif
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#endif
#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0x04
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH 0x08
#endif
#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
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
#define MOUNT_ATTR_NOSUID 0x02
#define MOUNT_ATTR_NODEV 0x04
#define MOUNT_ATTR_NOEXEC 0x08
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x01
#define FSMOUNT_CLOEXEC 0x01
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif
#if !defined(SYS_openat2) || !defined(SYS_open_tree) || !defined(SYS_move_mount) || \
    !defined(SYS_mount_setattr) || !defined(SYS_fsopen)
#error "kernel headers too old: need openat2, open_tree, move_mount, mount_setattr, fsopen (Linux >= 5.12)"
#endif

int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve);
int sys_open_tree(int dirfd, const char *path, unsigned flags);
int sys_move_mount(int from_fd, int to_fd);
/* Sets ATTRS (MOUNT_ATTR_*) on the mount FD names; with AT_RECURSIVE in FLAGS on its submounts too. */
int sys_mount_setattr(int fd, unsigned flags, uint64_t attrs);
/* The new mount API: a file system context, its settings (VALUE NULL for a flag or a
 * command), the detached mount made from it. */
int sys_fsopen(const char *fs, unsigned flags);
int sys_fsconfig(int fd, unsigned cmd, const char *key, const char *value);
int sys_fsmount(int fd, unsigned flags, unsigned attrs);

/* Where things live: on the --mnt tmpfs, or given by the caller. */
struct layout {
	char root[PATH_MAX];  /* mnt/root: mount point of the new root */
	char probe[PATH_MAX]; /* mnt/probe: read-only view for --userns, see prepare_targets() */
	char upper[PATH_MAX]; /* mnt/upper, or --upper */
	char work[PATH_MAX];  /* mnt/work, or --work */
	bool use_probe;
};

void make_mounts_private(void);
void plan_layout(const struct opts *o, struct layout *l);
void mount_scratch(const struct opts *o, const struct layout *l);
void mount_overlay(const struct opts *o, const struct layout *l, bool probe);
void mount_given_root(const struct opts *o, const struct layout *l);
void make_root_read_only(const struct layout *l);

#endif
