/* Probes of kernel features (kernel.h). Each costs a syscall or two and runs only where
 * the feature would be used. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "kernel.h"
#include "mount.h"
#include "util.h"

#define FORCE_VAR "PILOT_FORCE_FALLBACKS"

bool fallbacks_forced(const struct opts *o)
{
	const char *own = getenv(FORCE_VAR);
	if (own && strcmp(own, "1") == 0)
		return true;
	/* The Node path starts us with an empty environment and the caller's as words. */
	for (size_t i = 0; i < o->nenviron; i++)
		if (strcmp(o->environ_words[i], FORCE_VAR "=1") == 0)
			return true;
	return false;
}

bool has_lowerdir_append(const struct opts *o)
{
	if (fallbacks_forced(o)) {
		debug("kernel: overlay lowerdir+ not used (" FORCE_VAR ")");
		return false;
	}
	int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return false;
	/* A kernel without it refuses the key (EINVAL); one with it takes "/" as a lower. */
	bool has = sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", "/") == 0;
	close(fs);
	debug("kernel: overlay lowerdir+ %s", has ? "supported" : "not supported (Linux < 6.8)");
	return has;
}

bool has_user_xattrs(const struct opts *o, const char *dir)
{
	if (fallbacks_forced(o)) {
		debug("kernel: user.* xattrs on %s not used (" FORCE_VAR ")", dir);
		return false;
	}
	static const char name[] = "user.pilot.probe";
	bool has = setxattr(dir, name, "1", 1, 0) == 0;
	if (has)
		removexattr(dir, name);
	debug("kernel: user.* xattrs on %s %s", dir, has ? "supported" : "not supported");
	return has;
}
