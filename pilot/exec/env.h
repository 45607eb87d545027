/* The app's environment: the caller's, the image's and the flake's (docs/plan.md, "Environment"). */
#ifndef PILOT_ENV_H
#define PILOT_ENV_H

#include "options.h"

/* Builds the environment and makes it the process's (execvp() looks up PATH in it). */
void apply_env(const struct opts *o);

#endif
