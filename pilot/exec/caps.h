/* Capabilities and no_new_privs: --cap-drop, --cap-add, --no-new-privs. */
#ifndef PILOT_CAPS_H
#define PILOT_CAPS_H

#include <stdint.h>

#include "options.h"

/* A --cap-drop/--cap-add LIST as a mask (bit N: capability N); dies on an unknown name. */
uint64_t parse_caps(const char *opt, const char *list);

/* The steps, in this order, all no-ops without capability options:
 * note_caller_caps() first thing (what the caller holds); after chroot, while still
 * privileged, drop_bounding_caps(); keep_caps_across_setuid() just before drop_ids();
 * set_caps() after it; set_no_new_privs() last before execve. */
void note_caller_caps(const struct opts *o);
void drop_bounding_caps(const struct opts *o);
void keep_caps_across_setuid(const struct opts *o);
void set_caps(const struct opts *o);
void set_no_new_privs(const struct opts *o);

#endif
