/* Parsing and checking the exec step's options, from argv or from the --argv-fd pipe. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "mount.h"
#include "options.h"
#include "tmpfs.h"
#include "util.h"

static const char usage_text[] =
	"usage: pilot-exec [OPTIONS] -- PROGRAM [ARGS...]\n"
	"   or: pilot-exec --argv-fd N   the same words, NUL-terminated, read from fd N\n"
	"  (the rules: docs/plan.md, \"pilot-exec's options\")\n"
	"  --mnt DIR              scratch dir for a private tmpfs (required)\n"
	"  --lowerdir LIST        overlay lower dirs, colon-separated, leftmost on top\n"
	"  --lowerdir-base DIR    relative lower dirs are relative to DIR\n"
	"  --root DIR             use a composed root dir instead of an overlay\n"
	"  --root-mutable         mount points may be created in the --root tree (a kept\n"
	"                         instance: an overlay whose upper dir pilot owns)\n"
	"  --upper DIR --work DIR persistent overlay upper/work dirs instead of tmpfs\n"
	"  --upper-size BYTES     size of the tmpfs that holds the per-call upper\n"
	"  --bind|--rbind|--bind-ro SRC DST, --try-bind|--try-rbind SRC DST\n"
	"  --volume SRC DST FLAGS a volume, bound recursively; FLAGS: rw or ro, then\n"
	"                         optionally ,nosuid ,nodev ,noexec\n"
	"  --ignore-missing-volumes   skip a --volume whose SRC is missing\n"
	"  --tmpfs DST OPTIONS    a fresh tmpfs; OPTIONS: size=, mode=, nr_inodes=, uid=,\n"
	"                         gid=, ro|rw, exec|noexec (always nosuid,nodev)\n"
	"  --read-only            the new root's own mount is read-only (binds keep theirs)\n"
	"  --cwd DIR              working dir inside the new root (default /)\n"
	"  --rbind-cwd DIR        bind the directory pilot-exec was started in (the very\n"
	"                         directory, not a path looked up again) at DIR, work there\n"
	"                         (a deleted one: work in it, unattached)\n"
	"  --net-none             a network namespace with only lo, up\n"
	"  --hostname NAME        a UTS namespace with that host name\n"
	"  --uid N --gid N [--groups LIST]   ids for the app (root caller)\n"
	"  --userns               unprivileged caller: run via user namespaces\n"
	"  --cap-drop LIST, --cap-add LIST   capabilities (NET_RAW, cap_net_raw, ALL)\n"
	"  --no-new-privs         set no_new_privs\n"
	"  --environ K=V          a variable of the caller (as if in our environment)\n"
	"  --image-env K=V        the image's Env (the caller's session variables win)\n"
	"  --setenv K=V, --unsetenv K, --pass-env NAME|PREFIX*   in command-line order\n"
	"  --debug                each step, timed, on stderr\n";

static unsigned long parse_id(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v >= (unsigned long)(uid_t)-1)
		die("usage: %s: not a valid id: %s", opt, s);
	return v;
}

static void parse_groups(struct opts *o, const char *list)
{
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	o->groups = xcalloc(n, sizeof *o->groups);
	char *copy = xstrdup(list), *save = NULL;
	for (char *g = strtok_r(copy, ",", &save); g; g = strtok_r(NULL, ",", &save))
		o->groups[o->ngroups++] = (gid_t)parse_id("--groups", g);
	free(copy);
}

static void set_once(const char **slot, const char *opt, const char *value)
{
	if (*slot)
		die("usage: %s given twice", opt);
	*slot = value;
}

static bool is_abs(const char *p) { return p[0] == '/'; }

static void require_abs(const char *opt, const char *p)
{
	if (!is_abs(p))
		die("usage: %s: must be an absolute path: %s", opt, p);
}

/* Paths that end up inside the overlay's option string, where ',' separates options
 * and '\' escapes: refused rather than escaped, pilot never generates them. */
static void require_option_safe(const char *opt, const char *p)
{
	if (strpbrk(p, ",\\"))
		die("usage: %s: ',' and '\\' are not allowed in overlay paths: %s", opt, p);
}

/* A bind target is a path inside the new root: absolute, not the root itself,
 * no ".." (it would walk out of the place it names). */
static void check_target(const char *dst)
{
	require_abs("bind target", dst);
	bool has_component = false;
	for (const char *p = dst; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			die("usage: bind target must not contain \"..\": %s", dst);
		if (len && !(len == 1 && p[0] == '.'))
			has_component = true;
		p += len;
	}
	if (!has_component)
		die("usage: bind target must not be the root itself: %s", dst);
}

static bool word_is(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(p, word, len) == 0;
}

/* --volume FLAGS: rw or ro, then any of nosuid, nodev, noexec. */
static uint64_t parse_volume_flags(const char *dst, const char *flags)
{
	uint64_t attrs = 0;
	size_t len = strcspn(flags, ",");
	if (word_is(flags, len, "ro"))
		attrs = MOUNT_ATTR_RDONLY;
	else if (!word_is(flags, len, "rw"))
		goto bad;
	for (const char *p = flags + len; *p; p += len) {
		p++; /* the comma */
		len = strcspn(p, ",");
		if (word_is(p, len, "nosuid"))
			attrs |= MOUNT_ATTR_NOSUID;
		else if (word_is(p, len, "nodev"))
			attrs |= MOUNT_ATTR_NODEV;
		else if (word_is(p, len, "noexec"))
			attrs |= MOUNT_ATTR_NOEXEC;
		else
			goto bad;
	}
	return attrs;
bad:
	die("usage: --volume %s: FLAGS must be rw or ro, optionally followed by ,nosuid "
	    ",nodev ,noexec: %s", dst, flags);
}

/* K=V with a non-empty K (--setenv, --environ, --image-env). */
static void check_assignment(const char *opt, const char *a)
{
	const char *eq = strchr(a, '=');
	if (!eq || eq == a)
		die("usage: %s: bad argument: %s", opt, a);
}

static void check_env_op(const struct env_op *e)
{
	const char *a = e->arg;
	size_t len = strlen(a);
	switch (e->kind) {
	case ENV_SET:
		check_assignment("--setenv", a);
		break;
	case ENV_UNSET:
		if (!len || strchr(a, '='))
			die("usage: --unsetenv: bad argument: %s", a);
		break;
	case ENV_PASS:
		/* NAME, or PREFIX* (a '*' only at the end) */
		if (!len || strchr(a, '=') || strcspn(a, "*") + 1 < len)
			die("usage: --pass-env: bad argument: %s", a);
		break;
	}
}

static void validate(struct opts *o)
{
	if (!o->mnt)
		die("usage: --mnt DIR is required");
	require_abs("--mnt", o->mnt);
	if (!o->lowerdir == !o->root)
		die("usage: exactly one of --lowerdir and --root is required");
	if (!o->upper != !o->work)
		die("usage: --upper and --work go together");
	if (o->root) {
		require_abs("--root", o->root);
		if (o->upper || o->lowerdir_base)
			die("usage: --upper/--work/--lowerdir-base need --lowerdir, not --root");
	} else {
		require_option_safe("--mnt", o->mnt);
		require_option_safe("--lowerdir", o->lowerdir);
		if (o->lowerdir_base)
			require_abs("--lowerdir-base", o->lowerdir_base);
		if (o->upper) {
			require_abs("--upper", o->upper);
			require_abs("--work", o->work);
			require_option_safe("--upper", o->upper);
			require_option_safe("--work", o->work);
			/* --userns mounts a probe with the upper dir as a lower dir. */
			if (strchr(o->upper, ':'))
				die("usage: --upper: ':' is not allowed: %s", o->upper);
		}
		/* Relative lower dirs resolve against the cwd at mount time: only sane
		 * when the caller said what that cwd is. */
		for (const char *p = o->lowerdir;; p++) {
			size_t len = strcspn(p, ":");
			if (len == 0)
				die("usage: --lowerdir: empty entry in %s", o->lowerdir);
			if (p[0] != '/' && !o->lowerdir_base)
				die("usage: --lowerdir: relative entries need --lowerdir-base: %s",
				    o->lowerdir);
			p += len;
			if (!*p)
				break;
		}
	}
	if (o->upper_size) {
		if (o->upper || o->root)
			die("usage: --upper-size limits the per-call upper: not with --upper or --root");
		check_tmpfs_size("--upper-size", o->upper_size, false);
	}
	for (size_t i = 0; i < o->nbinds; i++) {
		/* SRC is opened after chdir(--lowerdir-base): relative would be ambiguous. */
		if (!o->binds[i].cwd && o->binds[i].kind != TMPFS)
			require_abs("bind source", o->binds[i].src);
		check_target(o->binds[i].dst);
	}
	if (o->cwd)
		require_abs("--cwd", o->cwd);
	if (o->have_uid != o->have_gid)
		die("usage: --uid and --gid go together");
	if (o->have_groups && !o->have_gid)
		die("usage: --groups needs --uid and --gid");
	if (o->userns && (o->have_uid || o->have_groups))
		die("usage: --userns runs the app as the caller: no --uid/--gid/--groups");
	if (o->hostname && (!*o->hostname || strlen(o->hostname) > 64))
		die("usage: --hostname: 1 to 64 bytes: %s", o->hostname);
	for (size_t i = 0; i < o->nenviron; i++)
		check_assignment("--environ", o->environ_words[i]);
	for (size_t i = 0; i < o->nimage_env; i++)
		check_assignment("--image-env", o->image_env[i]);
	for (size_t i = 0; i < o->nenv; i++)
		check_env_op(&o->env[i]);
}

static struct bind *add_bind(struct opts *o, size_t *cap)
{
	o->binds = reserve(o->binds, cap, o->nbinds, sizeof *o->binds);
	struct bind *b = &o->binds[o->nbinds++];
	*b = (struct bind){ 0 };
	return b;
}

static void add_word(const char ***array, size_t *n, size_t *cap, const char *word)
{
	*array = reserve(*array, cap, *n, sizeof **array);
	(*array)[(*n)++] = word;
}

void parse_args(int argc, char **argv, struct opts *o)
{
	/* --argv-fd N: the Node launcher hands over the caller's bytes (arguments,
	 * environment, cwd) that are not UTF-8, which spawn() cannot pass (src/runtime/run.ts). */
	size_t n = (size_t)argc - 1;
	char **tok = argv + 1;
	if (n >= 1 && strcmp(tok[0], "--argv-fd") == 0) {
		if (n != 2)
			die("usage: --argv-fd N must be the only option");
		int fd = (int)parse_id("--argv-fd", tok[1]);
		struct words words = { 0 };
		read_fd_words(fd, ARGV_FD_MAX_SIZE, &words, "--argv-fd");
		close(fd);
		tok = words.v;
		n = words.n;
	}
	size_t bind_cap = 0, env_cap = 0, environ_cap = 0, image_env_cap = 0;

	size_t i = 0;
	for (;;) {
		if (i >= n)
			die("usage: missing \"-- PROGRAM\"\n%s", usage_text);
		const char *opt = tok[i++];
		if (strcmp(opt, "--") == 0)
			break;
		if (strcmp(opt, "--help") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		}
#define VALUE()                                                                   \
	({                                                                        \
		if (i >= n || strcmp(tok[i], "--") == 0)                          \
			die("usage: %s needs a value", opt);                      \
		tok[i++];                                                         \
	})
		if (strcmp(opt, "--lowerdir-base") == 0) {
			set_once(&o->lowerdir_base, opt, VALUE());
		} else if (strcmp(opt, "--lowerdir") == 0) {
			set_once(&o->lowerdir, opt, VALUE());
		} else if (strcmp(opt, "--root") == 0) {
			set_once(&o->root, opt, VALUE());
		} else if (strcmp(opt, "--root-mutable") == 0) {
			o->root_mutable = true;
		} else if (strcmp(opt, "--upper") == 0) {
			set_once(&o->upper, opt, VALUE());
		} else if (strcmp(opt, "--work") == 0) {
			set_once(&o->work, opt, VALUE());
		} else if (strcmp(opt, "--mnt") == 0) {
			set_once(&o->mnt, opt, VALUE());
		} else if (strcmp(opt, "--cwd") == 0) {
			set_once(&o->cwd, opt, VALUE());
		} else if (strcmp(opt, "--bind") == 0 || strcmp(opt, "--rbind") == 0 ||
			   strcmp(opt, "--bind-ro") == 0 || strcmp(opt, "--try-bind") == 0 ||
			   strcmp(opt, "--try-rbind") == 0) {
			struct bind *b = add_bind(o, &bind_cap);
			b->optional = strncmp(opt, "--try-", 6) == 0;
			b->kind = strstr(opt, "rbind") ? RBIND : strstr(opt, "-ro") ? BIND_RO : BIND;
			b->src = VALUE();
			b->dst = VALUE();
		} else if (strcmp(opt, "--rbind-cwd") == 0) {
			struct bind *b = add_bind(o, &bind_cap);
			*b = (struct bind){ .kind = RBIND, .cwd = true, .src = "." };
			b->dst = VALUE();
			set_once(&o->cwd, opt, b->dst);
		} else if (strcmp(opt, "--volume") == 0) {
			struct bind *b = add_bind(o, &bind_cap);
			b->kind = VOLUME;
			b->src = VALUE();
			b->dst = VALUE();
			b->attrs = parse_volume_flags(b->dst, VALUE());
		} else if (strcmp(opt, "--ignore-missing-volumes") == 0) {
			o->ignore_missing_volumes = true;
		} else if (strcmp(opt, "--tmpfs") == 0) {
			struct bind *b = add_bind(o, &bind_cap);
			b->kind = TMPFS;
			b->dst = VALUE();
			b->options = VALUE();
			b->attrs = check_tmpfs_options(b->dst, b->options);
		} else if (strcmp(opt, "--upper-size") == 0) {
			set_once(&o->upper_size, opt, VALUE());
		} else if (strcmp(opt, "--read-only") == 0) {
			o->read_only = true;
		} else if (strcmp(opt, "--net-none") == 0) {
			o->net_none = true;
		} else if (strcmp(opt, "--hostname") == 0) {
			set_once(&o->hostname, opt, VALUE());
		} else if (strcmp(opt, "--cap-drop") == 0) {
			o->cap_drop |= parse_caps(opt, VALUE());
			o->have_caps = true;
		} else if (strcmp(opt, "--cap-add") == 0) {
			o->cap_add |= parse_caps(opt, VALUE());
			o->have_caps = true;
		} else if (strcmp(opt, "--no-new-privs") == 0) {
			o->no_new_privs = true;
		} else if (strcmp(opt, "--uid") == 0) {
			if (o->have_uid)
				die("usage: --uid given twice");
			o->uid = (uid_t)parse_id(opt, VALUE());
			o->have_uid = true;
		} else if (strcmp(opt, "--gid") == 0) {
			if (o->have_gid)
				die("usage: --gid given twice");
			o->gid = (gid_t)parse_id(opt, VALUE());
			o->have_gid = true;
		} else if (strcmp(opt, "--groups") == 0) {
			if (o->have_groups)
				die("usage: --groups given twice");
			parse_groups(o, VALUE());
			o->have_groups = true;
		} else if (strcmp(opt, "--userns") == 0) {
			o->userns = true;
		} else if (strcmp(opt, "--environ") == 0) {
			add_word(&o->environ_words, &o->nenviron, &environ_cap, VALUE());
		} else if (strcmp(opt, "--image-env") == 0) {
			add_word(&o->image_env, &o->nimage_env, &image_env_cap, VALUE());
		} else if (strcmp(opt, "--setenv") == 0 || strcmp(opt, "--unsetenv") == 0 ||
			   strcmp(opt, "--pass-env") == 0) {
			o->env = reserve(o->env, &env_cap, o->nenv, sizeof *o->env);
			o->env[o->nenv].kind = opt[2] == 's' ? ENV_SET : opt[2] == 'u' ? ENV_UNSET : ENV_PASS;
			o->env[o->nenv++].arg = VALUE();
		} else if (strcmp(opt, "--debug") == 0) {
			o->debug = true;
		} else {
			die("usage: unknown option: %s\n%s", opt, usage_text);
		}
#undef VALUE
	}
	if (i >= n)
		die("usage: missing PROGRAM after \"--\"");
	o->argv = tok + i;
	if (!o->cwd)
		o->cwd = "/";
	validate(o);
}
