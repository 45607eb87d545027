/* Kernel features pilot-exec uses where the kernel has them, probed, never assumed from
 * the version (docs/design.md, "Kernel features"). PILOT_FORCE_FALLBACKS=1 (tests)
 * makes every probe say no, so that a 6.18 machine runs Debian 12's 6.1 paths. */
#ifndef PILOT_KERNEL_H
#define PILOT_KERNEL_H

#include <stdbool.h>

#include "options.h"

/* PILOT_FORCE_FALLBACKS=1 in our environment or in the caller's (--environ). */
bool fallbacks_forced(const struct opts *o);

/* overlayfs takes `lowerdir+` through fsconfig() (Linux 6.8): one lower dir per call,
 * no one-page limit on the list. */
bool has_lowerdir_append(const struct opts *o);

/* DIR (on a tmpfs we mounted) takes user.* xattrs (tmpfs: Linux 6.6). An overlay
 * mounted with userxattr keeps its opaque marks in user.overlay.* of the upper dir. */
bool has_user_xattrs(const struct opts *o, const char *dir);

#endif
