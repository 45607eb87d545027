/* The caller's part of a plan: its run dir, user namespace and account files (caller.c). */
#ifndef PILOT_CALLER_H
#define PILOT_CALLER_H

#include <stdbool.h>

#include "plan.h"
#include "util.h"

struct caller_part {
	struct words first; /* --mnt RUN/mnt [--userns]: before the plan's opt words */
	struct words binds; /* account files and /run/user/UID: after them, before HOME */
};

/* The caller's words for plan P, RUN its run dir (OWNS_STORE: the store's, else its
 * own); false, and why, when the stub cannot work them out as the Node launcher would. */
bool caller_part(const char *run, bool owns_store, const struct plan *p, struct caller_part *out,
		 struct decline *why);

#endif
