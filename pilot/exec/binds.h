/* Host paths bound into the new root (--bind, --rbind, --bind-ro, --try-*). */
#ifndef PILOT_BINDS_H
#define PILOT_BINDS_H

#include "mount.h"
#include "options.h"

void prepare_targets(const struct opts *o, const struct layout *l);
void do_binds(const struct opts *o, const struct layout *l);

#endif
