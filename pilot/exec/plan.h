/* A plan file's records and the command line the stub builds from them (docs/plan.md). */
#ifndef PILOT_PLAN_H
#define PILOT_PLAN_H

#include <stdbool.h>

#include "util.h"

struct plan {
	struct words opts, late, covers, fixed, defaults;
	const char *program, *workdir, *pidfile_dir, *callers;
	const char *passwd, *group; /* accounts: the image's account files */
	bool home_bind; /* homebind caller (the default) */
};

/* Why the stub steps aside: "REASON[: DETAIL]". */
struct decline {
	const char *reason, *detail;
};

/* Sets WHY and returns false: `return decline(why, ...)` at the first doubt. */
static inline bool decline(struct decline *why, const char *reason, const char *detail)
{
	*why = (struct decline){ reason, detail };
	return false;
}

/* Checks the check records of a plan's words (after the magic words) and collects the
 * others; false, and why, at the first doubt. */
bool read_plan(const struct words *w, struct plan *p, struct decline *why);
/* pilot-exec's command line for this call (line.v[0] is "pilot-exec"): the caller's
 * FIRST words, the plan's opt words, CALLER_BINDS, HOME and cwd, the late words, the
 * command; false, and why, when it cannot be built. */
bool build_line(int argc, char **argv, const struct plan *p, const struct words *first,
		const struct words *caller_binds, struct words *line, struct decline *why);

#endif
