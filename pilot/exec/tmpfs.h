/* --tmpfs and --upper-size: tmpfs options checked, a fresh tmpfs made as a detached mount. */
#ifndef PILOT_TMPFS_H
#define PILOT_TMPFS_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"

/* Checks --tmpfs OPTIONS (dies on a usage error); returns the MOUNT_ATTR_* it means. */
uint64_t check_tmpfs_options(const char *dst, const char *options);
/* A size as tmpfs takes it: digits, then k, m or g (or % with percent); not 0. */
void check_tmpfs_size(const char *what, const char *value, bool percent);
/* The tmpfs of a TMPFS bind, not attached anywhere yet (move_mount() it). */
int make_tmpfs(const struct bind *b);

#endif
