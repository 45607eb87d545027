/* The exec step's command line: what to compose, bind and run (see usage_text). */
#ifndef PILOT_OPTIONS_H
#define PILOT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* VOLUME: a flake's volume, recursive, with mount attributes; TMPFS: a fresh tmpfs (no SRC). */
enum bind_kind { BIND, RBIND, BIND_RO, VOLUME, TMPFS };

struct bind {
	enum bind_kind kind;
	bool optional; /* --try-*: a missing SRC is skipped silently */
	bool cwd;      /* --rbind-cwd: SRC is the directory we were started in, by descriptor */
	const char *src, *dst;
	uint64_t attrs;      /* VOLUME, TMPFS: MOUNT_ATTR_* to set */
	const char *options; /* TMPFS: its OPTIONS word (checked by check_tmpfs_options) */
};

/* The flake's variables, applied in command-line order (env.c). */
enum env_kind { ENV_SET, ENV_UNSET, ENV_PASS };

struct env_op {
	enum env_kind kind;
	const char *arg; /* K=V, K, or NAME / PREFIX* */
};

struct opts {
	const char *lowerdir_base, *lowerdir, *root, *upper, *work, *mnt, *cwd;
	const char *upper_size, *hostname;
	struct bind *binds;
	size_t nbinds;
	struct env_op *env;
	size_t nenv;
	const char **environ_words, **image_env; /* --environ, --image-env: K=V */
	size_t nenviron, nimage_env;
	bool have_uid, have_gid, have_groups;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	bool userns, debug, root_mutable;
	bool read_only, net_none, no_new_privs, ignore_missing_volumes;
	bool have_caps;            /* any --cap-drop or --cap-add */
	uint64_t cap_drop, cap_add; /* bit N: capability N; ALL: every bit */
	uid_t caller_uid; /* for --userns: the ids the maps point at */
	gid_t caller_gid;
	char **argv; /* PROGRAM ARGS..., NULL-terminated */
};

/* Parses and checks argv (or the words of --argv-fd); dies on a usage error. */
void parse_args(int argc, char **argv, struct opts *o);

#endif
