/*
 * The caller's part of a plan (docs/plan.md, "The command line the stub builds"): a plan
 * holds nothing of its caller, so one plan of the store's owner serves every caller, and
 * the stub adds, as the Node launcher does for the same caller:
 *
 *   --mnt RUN/mnt [--userns]          its run dir's mount point; a user namespace unless root
 *   --bind-ro FILE /etc/passwd ...    (plans with `accounts`) the image's account files
 *   --try-rbind /run/user/U ...       with the caller's entries, and its runtime dir
 *
 * The account files are identity.ts's sessionFiles() for an app that runs as its caller,
 * made from the image's files (the plan's `accounts` record) and the host's /etc/passwd
 * and /etc/group, written to RUN/session/<fnv1a64 of the content>.passwd|group. A caller
 * the host files do not know (an LDAP account) is left to the Node launcher, which asks
 * the name service.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caller.h"

/* mkdir -p PATH: created parents get PARENT_MODE, PATH itself LEAF_MODE, whatever the
 * umask (src/core/modes.ts). */
static bool make_dirs(const char *path, mode_t parent_mode, mode_t leaf_mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return false;
	for (char *p = buf + 1;; p++) {
		bool leaf = *p == '\0';
		if (*p != '/' && !leaf)
			continue;
		*p = '\0';
		mode_t mode = leaf ? leaf_mode : parent_mode;
		if (mkdir(buf, mode) == 0)
			(void)chmod(buf, mode);
		else if (errno != EEXIST)
			return false;
		if (leaf)
			return true;
		*p = '/';
	}
}

static bool digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Up to MAX ':'-separated fields of LINE (a copy); the last holds the rest. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

/* The fields of the first passwd entry (7 fields, numeric uid and gid) whose uid is UID
 * and, unless NAME is NULL, whose name is NAME: identity.ts's parsePasswd(). */
static bool find_account(const char *text, const char *name, unsigned long uid, char **f)
{
	const char *line = text;
	while (*line) {
		size_t len = strcspn(line, "\n");
		char *copy = xstrndup(line, len);
		if (split_fields(copy, f, 7) == 7 && digits(f[2]) && digits(f[3]) &&
		    strtoul(f[2], NULL, 10) == uid && (!name || strcmp(f[0], name) == 0))
			return true;
		free(copy);
		line += len + (line[len] == '\n');
	}
	return false;
}

/* The first group entry (4 fields or more, numeric gid) of GID: identity.ts's parseGroup(). */
static bool find_group(const char *text, unsigned long gid, char **f)
{
	const char *line = text;
	while (*line) {
		size_t len = strcspn(line, "\n");
		char *copy = xstrndup(line, len);
		if (split_fields(copy, f, 5) >= 4 && digits(f[2]) && strtoul(f[2], NULL, 10) == gid) {
			char *end = strchr(f[3], ':');
			if (end)
				*end = '\0';
			return true;
		}
		free(copy);
		line += len + (line[len] == '\n');
	}
	return false;
}

/* A growing string. */
struct text {
	char *s;
	size_t n, cap;
};

static void append(struct text *t, const char *s, size_t len)
{
	t->s = reserve(t->s, &t->cap, t->n + len, 1); /* and its terminating NUL */
	memcpy(t->s + t->n, s, len);
	t->n += len;
	t->s[t->n] = '\0';
}

static void append_str(struct text *t, const char *s)
{
	append(t, s, strlen(s));
}

/* Lines of TEXT that are not empty and that KEEP(line) says stay, each with a newline. */
static void kept_lines(struct text *out, const char *text, bool (*keep)(const char *, size_t, const void *),
		       const void *arg)
{
	const char *line = text;
	while (*line) {
		size_t len = strcspn(line, "\n");
		if (len > 0 && keep(line, len, arg)) {
			append(out, line, len);
			append_str(out, "\n");
		}
		line += len + (line[len] == '\n');
	}
}

/* Field K (0-based) of a line, as JavaScript's line.split(':')[k]; NULL past the end. */
static const char *field(const char *line, size_t len, size_t k, size_t *flen)
{
	const char *p = line, *end = line + len;
	for (; k > 0; k--) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (!colon)
			return NULL;
		p = colon + 1;
	}
	const char *colon = memchr(p, ':', (size_t)(end - p));
	*flen = (size_t)((colon ? colon : end) - p);
	return p;
}

static bool field_is(const char *line, size_t len, size_t k, const char *want)
{
	size_t flen;
	const char *f = field(line, len, k, &flen);
	return f && flen == strlen(want) && memcmp(f, want, flen) == 0;
}

struct account_key {
	const char *name, *uid;
};

static bool other_account(const char *line, size_t len, const void *arg)
{
	const struct account_key *key = arg;
	return !field_is(line, len, 0, key->name) && !field_is(line, len, 2, key->uid);
}

static bool other_group(const char *line, size_t len, const void *arg)
{
	return !field_is(line, len, 0, arg);
}

/* FNV-1a (64 bit) of LEN bytes: fnv1a64 in src/core/paths.ts. */
static unsigned long long fnv1a64_bytes(const char *s, size_t len)
{
	unsigned long long hash = 0xcbf29ce484222325ULL;
	for (size_t k = 0; k < len; k++) {
		hash ^= (unsigned char)s[k];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* RUN/session/<hash>.SUFFIX holding CONTENT: taken when it holds exactly that (the
 * caller's own file), else written (temp file, rename), as launch-options.ts does. */
static char *session_file(const char *run, const struct text *content, const char *suffix, uid_t uid)
{
	char dir[PATH_MAX], *file = xcalloc(PATH_MAX, 1);
	if (snprintf(dir, sizeof dir, "%s/session", run) >= (int)sizeof dir - 32 ||
	    !make_dirs(dir, 0755, 0755))
		return NULL;
	if (snprintf(file, PATH_MAX, "%s/%016llx.%s", dir, fnv1a64_bytes(content->s, content->n),
		     suffix) >= PATH_MAX)
		return NULL;
	char *have = NULL;
	size_t size = 0;
	if (read_whole_file(file, uid, &have, &size) == READ_OK && size == content->n &&
	    memcmp(have, content->s, size) == 0) {
		free(have);
		return file;
	}
	free(have);
	char temp[PATH_MAX];
	snprintf(temp, sizeof temp, "%s.%ld.tmp", file, (long)getpid());
	int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return NULL;
	(void)fchmod(fd, 0644);
	bool ok = write(fd, content->s, content->n) == (ssize_t)content->n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(temp, file) < 0) {
		unlink(temp);
		return NULL;
	}
	return file;
}

static void push_bind(struct words *w, const char *kind, char *source, char *target)
{
	push_word(w, (char *)kind);
	push_word(w, source);
	push_word(w, target);
}

/* identity.ts's sessionFiles() for an app that runs as its caller (uid, gid). */
static bool account_binds(const char *run, const struct plan *p, uid_t uid, gid_t gid,
			  struct words *binds, struct decline *why)
{
	char *host = NULL, *f[7], *img[7];
	size_t size;
	if (read_whole_file("/etc/passwd", 0, &host, &size) != READ_OK ||
	    !find_account(host, NULL, uid, f))
		return decline(why, "the caller has no entry in /etc/passwd", NULL);
	const char *name = f[0], *home = f[5];
	unsigned long account_gid = strtoul(f[3], NULL, 10);
	bool same = find_account(p->passwd, name, uid, img) &&
		    (uid == 0 || (strcmp(img[5], home) == 0 && strtoul(img[3], NULL, 10) == account_gid));
	if (!same) {
		char uid_text[24];
		snprintf(uid_text, sizeof uid_text, "%lu", (unsigned long)uid);
		struct account_key key = { name, uid_text };
		struct text passwd = { 0 };
		kept_lines(&passwd, p->passwd, other_account, &key);
		char entry[64];
		append_str(&passwd, name);
		snprintf(entry, sizeof entry, ":x:%lu:%lu:", (unsigned long)uid, account_gid);
		append_str(&passwd, entry);
		for (int k = 4; k < 7; k++) {
			append_str(&passwd, f[k]);
			append_str(&passwd, k < 6 ? ":" : "\n");
		}
		char *file = session_file(run, &passwd, "passwd", uid);
		if (!file)
			return decline(why, "cannot write the caller's account file", run);
		push_bind(binds, "--bind-ro", file, "/etc/passwd");
	}
	char *g[5];
	if (!find_group(p->group, gid, g)) {
		char *groups = NULL;
		if (read_whole_file("/etc/group", 0, &groups, &size) != READ_OK || !find_group(groups, gid, g))
			return decline(why, "the caller's group is not in /etc/group", NULL);
		bool member = false;
		for (char *m = g[3]; *m;) {
			size_t len = strcspn(m, ",");
			member = member || (len == strlen(name) && strncmp(m, name, len) == 0);
			m += len + (m[len] == ',');
		}
		struct text group = { 0 };
		kept_lines(&group, p->group, other_group, g[0]);
		char entry[64];
		append_str(&group, g[0]);
		snprintf(entry, sizeof entry, ":x:%lu:", (unsigned long)gid);
		append_str(&group, entry);
		append_str(&group, member ? name : "");
		append_str(&group, "\n");
		char *file = session_file(run, &group, "group", uid);
		if (!file)
			return decline(why, "cannot write the caller's account file", run);
		push_bind(binds, "--bind-ro", file, "/etc/group");
	}
	return true;
}

bool caller_part(const char *run, bool owns_store, const struct plan *p, struct caller_part *out,
		 struct decline *why)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	static char mnt[PATH_MAX];
	if (snprintf(mnt, sizeof mnt, "%s/mnt", run) >= (int)sizeof mnt)
		return decline(why, "path too long", run);
	/* Created as the Node launcher does (launcher-paths.ts): a caller's own run dir 0700,
	 * the store's 0755; a reboot clears /run. */
	struct stat st;
	if (lstat(mnt, &st) < 0 && !make_dirs(mnt, owns_store ? 0755 : 0700, 0755))
		return decline(why, "cannot make the run dir", mnt);
	if (!owns_store && (stat(run, &st) < 0 || st.st_uid != uid))
		return decline(why, "run dir not the caller's", run);
	push_word(&out->first, "--mnt");
	push_word(&out->first, mnt);
	if (uid != 0)
		push_word(&out->first, "--userns");
	if (!p->passwd)
		return true;
	if (!account_binds(run, p, uid, gid, &out->binds, why))
		return false;
	static char runtime[64];
	snprintf(runtime, sizeof runtime, "/run/user/%lu", (unsigned long)uid);
	push_bind(&out->binds, "--try-rbind", runtime, runtime);
	return true;
}
