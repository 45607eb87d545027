/*
 * --net-none: a network namespace with only lo, which the kernel makes down; it is
 * brought up so that the app can still talk to itself (localhost servers, tests).
 * --hostname: a UTS namespace with that name. Both namespaces are made with the mount
 * namespace, by the same unshare(); with --userns in the first user namespace, which
 * then owns them: only there may we configure them (the app's inner namespace
 * cannot, so neither can the app).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

int net_uts_flags(const struct opts *o)
{
	return (o->net_none ? CLONE_NEWNET : 0) | (o->hostname ? CLONE_NEWUTS : 0);
}

static void bring_lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die_errno("cannot open a socket to configure lo", NULL, errno);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die_errno("cannot read the flags of", "lo", errno);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die_errno("cannot bring up", "lo", errno);
	close(s);
	debug("network namespace, lo up");
}

void set_up_net_uts(const struct opts *o)
{
	if (o->net_none)
		bring_lo_up();
	if (o->hostname) {
		if (sethostname(o->hostname, strlen(o->hostname)) < 0)
			die_errno("cannot set the host name", o->hostname, errno);
		debug("UTS namespace, host name %s", o->hostname);
	}
}
