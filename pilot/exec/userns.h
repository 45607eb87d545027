/* Whose ids the app runs with: user namespaces and their id maps, or a root caller's drop. */
#ifndef PILOT_USERNS_H
#define PILOT_USERNS_H

#include "options.h"

void enter_namespaces(struct opts *o);
void enter_caller_userns(const struct opts *o);
void drop_ids(const struct opts *o);

#endif
