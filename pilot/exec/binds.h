/* Host paths bound into the new root (--bind, --rbind, --bind-ro, --try-*, --volume), and --tmpfs. */
#ifndef PILOT_BINDS_H
#define PILOT_BINDS_H

#include <stdbool.h>

#include "mount.h"
#include "options.h"

/* Holds on to the directory we were started in (call it first thing in the new mount
 * namespace, before any chdir): --rbind-cwd binds that directory, not its path. */
void open_start_dir(void);
/* The start dir was removed: --rbind-cwd then needs no mount point (binds.c). */
bool start_dir_deleted(void);
void do_binds(const struct opts *o, const struct layout *l);
/* After chroot: into the --rbind-cwd mount by descriptor, else chdir(--cwd). */
void enter_cwd(const struct opts *o);

#endif
