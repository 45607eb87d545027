/* Mount targets inside the new root: resolved without following a symlink, created safely. */
#ifndef PILOT_TARGETS_H
#define PILOT_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "mount.h"
#include "options.h"

/* State for resolving mount targets inside the new root. */
struct newroot {
	int fd;              /* O_PATH fd of the merged root */
	uint64_t mnt_id;     /* its mount id: creations must land on this mount only */
	bool read_only_tree; /* --root: a host directory, never written to */
};

void open_newroot(struct newroot *nr, const char *path, bool read_only_tree);
/* An O_PATH fd on DST inside the new root, the mount point created if missing (a
 * directory, or with !want_dir an empty file); dies when that is not safe. */
int resolve_target(const struct newroot *nr, const char *dst, bool want_dir);
/* --userns: creates the missing mount points in the upper dir before the overlay is mounted. */
void prepare_targets(const struct opts *o, const struct layout *l);
void close_unless(int fd, int keep);

#endif
