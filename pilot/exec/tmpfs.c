/*
 * --tmpfs DST OPTIONS: podman's --tmpfs options, checked here so that a typo is a
 * usage error naming the option, not an EINVAL from the kernel. The tmpfs is made
 * with the new mount API (fsopen, fsconfig, fsmount): it exists detached, with its
 * mount attributes, before binds.c attaches it onto the resolved target by descriptor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mount.h"
#include "tmpfs.h"
#include "util.h"

static bool all_digits(const char *s, size_t len, size_t max_len)
{
	if (len == 0 || len > max_len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

void check_tmpfs_size(const char *what, const char *value, bool percent)
{
	size_t len = strlen(value);
	if (len && strchr(percent ? "kKmMgG%" : "kKmMgG", value[len - 1]))
		len--;
	/* size=0 would be a tmpfs without a limit */
	if (!all_digits(value, len, 18) || strspn(value, "0") == len)
		die("usage: %s: not a size (digits, then k, m or g%s): %s", what,
		    percent ? " or %" : "", value);
}

/* "key=value" item of OPTIONS: the value, if the item is KEY=... */
static const char *value_of(const char *item, size_t len, const char *key)
{
	size_t klen = strlen(key);
	return len > klen && memcmp(item, key, klen) == 0 && item[klen] == '=' ? item + klen + 1 : NULL;
}

uint64_t check_tmpfs_options(const char *dst, const char *options)
{
	uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	for (const char *p = options; *p;) {
		size_t len = strcspn(p, ",");
		char *item = xstrndup(p, len);
		const char *v;
		if ((v = value_of(item, len, "size"))) {
			check_tmpfs_size("--tmpfs size", v, true);
		} else if ((v = value_of(item, len, "nr_inodes"))) {
			check_tmpfs_size("--tmpfs nr_inodes", v, false);
		} else if ((v = value_of(item, len, "mode"))) {
			if (!*v || strlen(v) > 5 || strspn(v, "01234567") != strlen(v) ||
			    strtoul(v, NULL, 8) > 07777)
				die("usage: --tmpfs %s: mode is octal, at most 07777: %s", dst, v);
		} else if ((v = value_of(item, len, "uid")) || (v = value_of(item, len, "gid"))) {
			if (!all_digits(v, strlen(v), 10) || strtoul(v, NULL, 10) >= (uid_t)-1)
				die("usage: --tmpfs %s: not a valid id: %s", dst, item);
		} else if (strcmp(item, "ro") == 0) {
			attrs |= MOUNT_ATTR_RDONLY;
		} else if (strcmp(item, "rw") == 0) {
			attrs &= ~(uint64_t)MOUNT_ATTR_RDONLY;
		} else if (strcmp(item, "exec") == 0) {
			attrs &= ~(uint64_t)MOUNT_ATTR_NOEXEC;
		} else if (strcmp(item, "noexec") == 0) {
			attrs |= MOUNT_ATTR_NOEXEC;
		} else if (strcmp(item, "nosuid") != 0 && strcmp(item, "nodev") != 0 && len) {
			/* suid and dev among them: a tmpfs is always nosuid,nodev */
			die("usage: --tmpfs %s: unknown or refused option \"%s\" (size=, mode=, "
			    "nr_inodes=, uid=, gid=, ro, rw, exec, noexec, nosuid, nodev)", dst, item);
		}
		free(item);
		p += len;
		if (*p)
			p++;
	}
	return attrs;
}

int make_tmpfs(const struct bind *b)
{
	int fs = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		die_errno("cannot create a tmpfs", b->dst, errno);
	/* The key=value items, each set as it is; the flags are mount attributes. */
	char *copy = xstrdup(b->options), *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (sys_fsconfig(fs, FSCONFIG_SET_STRING, item, eq + 1) < 0)
			die("cannot create a tmpfs: %s: %s=%s: %s", b->dst, item, eq + 1, strerror(errno));
	}
	free(copy);
	if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL) < 0)
		die_errno("cannot create a tmpfs", b->dst, errno);
	int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)b->attrs);
	if (mnt < 0)
		die_errno("cannot mount a tmpfs", b->dst, errno);
	close(fs);
	return mnt;
}
