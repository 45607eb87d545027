/*
 * --cap-drop, --cap-add and --no-new-privs (docs/plan.md, "Capabilities"), with the
 * raw capget/capset system calls and prctl(2): no libcap in a static binary.
 *
 * The app's set is what the caller holds, minus the drops, plus the adds. Which
 * kernel rule does the work depends on who the app runs as:
 *  - uid 0 (a root caller, or a root caller's --userns): execve gives root its whole
 *    bounding set, so the drops leave the bounding set, and the other sets with it;
 *  - a root caller's --uid N: setuid() clears every set, so the adds are kept across
 *    it (PR_SET_KEEPCAPS) and made ambient, the only set a non-root execve keeps;
 *  - --userns: the inner user namespace starts with a full bounding set (the kernel
 *    resets it for every new user namespace), so the drops are done in there, where
 *    we are its root until execve. An add is never granted: the caller holds nothing
 *    on the host, and caps of the inner namespace own no resource the app could use.
 * Dropping anything sets no_new_privs: a setuid program must not undo the drop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "util.h"

/* Capability N is cap_names[N] (include/uapi/linux/capability.h, Linux 6.x: 0..40). */
static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};
#define NCAP_NAMES (sizeof cap_names / sizeof *cap_names)
#define ALL_CAPS (~(uint64_t)0)

static uint64_t bit(unsigned cap)
{
	return (uint64_t)1 << cap;
}

static const char *cap_name(unsigned cap)
{
	return cap < NCAP_NAMES ? cap_names[cap] : "(newer than pilot)";
}

static uint64_t parse_cap(const char *opt, const char *name, size_t len)
{
	if (len == 3 && strncasecmp(name, "all", 3) == 0)
		return ALL_CAPS;
	if (len > 4 && strncasecmp(name, "cap_", 4) == 0) {
		name += 4;
		len -= 4;
	}
	for (unsigned c = 0; c < NCAP_NAMES; c++)
		if (strlen(cap_names[c]) == len && strncasecmp(cap_names[c], name, len) == 0)
			return bit(c);
	die("usage: %s: unknown capability: %.*s", opt, (int)len, name);
}

uint64_t parse_caps(const char *opt, const char *list)
{
	uint64_t mask = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		if (len == 0)
			die("usage: %s: empty capability name in \"%s\"", opt, list);
		mask |= parse_cap(opt, p, len);
		p += len;
		if (!*p)
			return mask;
	}
}

static uint64_t known; /* the capabilities this kernel has */
static uint64_t held;  /* the caller's permitted set, at start */

static void cap_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	if (syscall(SYS_capget, &head, data) < 0)
		die_errno("cannot read capabilities", NULL, errno);
}

static void cap_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	if (syscall(SYS_capset, &head, data) < 0)
		die_errno("cannot set capabilities", NULL, errno);
}

static uint64_t joined(uint32_t low, uint32_t high)
{
	return (uint64_t)high << 32 | low;
}

/* What leaves every set: the drops (all of them for ALL), unless added back. */
static uint64_t dropped(const struct opts *o)
{
	return o->cap_drop & ~o->cap_add & known;
}

/* Does the app run as a non-root uid that a root caller chose? Then adds go ambient. */
static bool ambient_target(const struct opts *o)
{
	return o->have_uid && o->uid != 0;
}

static uint64_t granted_adds(const struct opts *o)
{
	return ambient_target(o) ? o->cap_add & held & known : 0;
}

void note_caller_caps(const struct opts *o)
{
	if (!o->have_caps)
		return;
	/* The highest capability is the last one PR_CAPBSET_READ knows (no /proc needed). */
	for (unsigned c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		known |= bit(c);
	struct __user_cap_data_struct data[2];
	cap_get(data);
	held = joined(data[0].permitted, data[1].permitted);
	uint64_t refused = o->cap_add & known & ~(o->userns ? 0 : held);
	if (refused)
		debug("--cap-add: not held by the caller, not granted: %#llx",
		      (unsigned long long)refused);
	debug("capabilities: caller holds %#llx, dropping %#llx", (unsigned long long)held,
	      (unsigned long long)dropped(o));
}

void drop_bounding_caps(const struct opts *o)
{
	uint64_t drop = dropped(o);
	if (!drop)
		return;
	for (unsigned c = 0; c < 64; c++)
		if (drop & bit(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			die_errno("cannot drop a capability from the bounding set", cap_name(c), errno);
	debug("bounding set reduced");
}

void keep_caps_across_setuid(const struct opts *o)
{
	if (granted_adds(o) && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die_errno("cannot keep capabilities across setuid", NULL, errno);
}

/*
 * After drop_ids(). A non-root app of a root caller: its permitted, inheritable and
 * effective sets become the adds, which are then raised as ambient (the kernel wants
 * them permitted and inheritable first). Otherwise the drops leave these sets; the
 * ambient set follows by itself (no capability stays ambient that is not both
 * permitted and inheritable).
 */
void set_caps(const struct opts *o)
{
	uint64_t drop = dropped(o), adds = granted_adds(o);
	if (!drop && !adds)
		return;
	struct __user_cap_data_struct data[2];
	if (ambient_target(o)) {
		for (int i = 0; i < 2; i++) {
			uint32_t part = (uint32_t)(adds >> (32 * i));
			data[i] = (struct __user_cap_data_struct){ part, part, part };
		}
	} else {
		cap_get(data);
		for (int i = 0; i < 2; i++) {
			uint32_t keep = ~(uint32_t)(drop >> (32 * i));
			data[i].effective &= keep;
			data[i].permitted &= keep;
			data[i].inheritable &= keep;
		}
	}
	cap_set(data);
	for (unsigned c = 0; c < 64; c++)
		if (adds & bit(c) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			die_errno("cannot raise an ambient capability", cap_name(c), errno);
	debug("capabilities set (ambient %#llx)", (unsigned long long)adds);
}

void set_no_new_privs(const struct opts *o)
{
	if (!o->no_new_privs && !dropped(o))
		return;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die_errno("cannot set no_new_privs", NULL, errno);
	debug("no_new_privs");
}
