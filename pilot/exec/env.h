/* The app's environment: the caller's, the image's and the flake's (docs/plan.md, "Environment"). */
#ifndef PILOT_ENV_H
#define PILOT_ENV_H

#include "options.h"
#include "util.h"

/* Builds the environment and makes it the process's (execvp() looks up PATH in it). */
void apply_env(const struct opts *o);

/* The caller's environment as both launch paths take it (docs/plan.md): each NAME=VALUE
 * entry of ours with a non-empty NAME, the first for each NAME (the one getenv() gives). */
void caller_environ(struct words *out);

#endif
