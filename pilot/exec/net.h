/* --net-none and --hostname: a network or UTS namespace of the app's own. */
#ifndef PILOT_NET_H
#define PILOT_NET_H

#include "options.h"

/* The CLONE_NEW* flags these options add to the first unshare(). */
int net_uts_flags(const struct opts *o);
/* In the namespaces just made (where we are root): lo up, the host name set. */
void set_up_net_uts(const struct opts *o);

#endif
