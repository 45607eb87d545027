/* User and mount namespaces, id maps, and the root caller's drop to --uid/--gid. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "userns.h"
#include "util.h"

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

/* A new mount namespace (and those of --net-none and --hostname); for an unprivileged
 * caller inside a new user namespace in which the caller is root, so that it may mount
 * (tmpfs, overlay with userxattr, binds) and configure the others. */
void enter_namespaces(struct opts *o)
{
	int extra = net_uts_flags(o);
	if (!o->userns) {
		if (unshare(CLONE_NEWNS | extra) < 0) {
			if (errno == EPERM)
				die("cannot create a mount namespace: %s (unprivileged caller: use --userns)",
				    strerror(errno));
			die_errno("cannot create a mount namespace", NULL, errno);
		}
		debug("unshare(CLONE_NEWNS%s)", extra ? " and more" : "");
		set_up_net_uts(o);
		return;
	}
	o->caller_uid = getuid();
	o->caller_gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | extra) < 0)
		die_errno("cannot create a user and mount namespace", NULL, errno);
	write_id_maps(0, o->caller_uid, 0, o->caller_gid);
	debug("unshare(CLONE_NEWUSER|CLONE_NEWNS%s), mapped root to %lu:%lu",
	      extra ? " and more" : "", (unsigned long)o->caller_uid, (unsigned long)o->caller_gid);
	set_up_net_uts(o);
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
void enter_caller_userns(const struct opts *o)
{
	if (unshare(CLONE_NEWUSER) < 0)
		die_errno("cannot create the inner user namespace", NULL, errno);
	write_id_maps(o->caller_uid, 0, o->caller_gid, 0);
	debug("unshare(CLONE_NEWUSER), mapped %lu:%lu back", (unsigned long)o->caller_uid,
	      (unsigned long)o->caller_gid);
}

/* Root caller with --uid/--gid: supplementary groups first, then gid, then uid
 * (after setuid we could not change the others). setuid from 0 clears all caps,
 * except the permitted ones keep_caps_across_setuid() (caps.c) asked to keep. */
void drop_ids(const struct opts *o)
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
