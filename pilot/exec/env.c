/*
 * The app's environment, built right before execve in the order of docs/plan.md
 * ("Environment"), later steps winning:
 *  1. the caller's: our own environment (caller_environ()) plus the --environ words
 *     (the Node launcher starts us with an empty one and passes the caller's bytes as
 *     words);
 *  2. minus the loader's variables, unless the flake passes or sets them: they would
 *     make the image's own dynamic loader load or audit host libraries;
 *  3. the image's Env, except the caller's session variables (HOME, TERM, LANG...):
 *     the app runs in the caller's session;
 *  4. --setenv, --unsetenv and --pass-env in command-line order; --pass-env copies from
 *     the caller's environment as step 1 left it.
 * The array is ours (entries are words of the command line or of environ); nothing
 * is copied but pointers.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <string.h>

#include "env.h"
#include "util.h"

extern char **environ;

static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

static bool has_name(const char *entry, const char *name, size_t len)
{
	return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

static const char *find(const struct words *env, const char *name, size_t len)
{
	for (size_t i = 0; i < env->n; i++)
		if (has_name(env->v[i], name, len))
			return env->v[i];
	return NULL;
}

static void remove_name(struct words *env, const char *name, size_t len)
{
	if (!env->v)
		return;
	size_t kept = 0;
	for (size_t i = 0; i < env->n; i++)
		if (!has_name(env->v[i], name, len))
			env->v[kept++] = env->v[i];
	env->n = kept;
	env->v[kept] = NULL;
}

/* K=V replaces every K. */
static void put(struct words *env, const char *entry)
{
	remove_name(env, entry, name_len(entry));
	push_word(env, (char *)entry);
}

static bool is_session_variable(const char *name, size_t len)
{
	static const char *const session[] = { "HOME", "USER", "LOGNAME", "TERM", "LANG",
					       "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR" };
	for (size_t i = 0; i < sizeof session / sizeof *session; i++)
		if (strlen(session[i]) == len && memcmp(session[i], name, len) == 0)
			return true;
	return len > 3 && memcmp(name, "LC_", 3) == 0;
}

/* Does --pass-env PATTERN (NAME or PREFIX*) name NAME? */
static bool pass_matches(const char *pattern, const char *name, size_t len)
{
	size_t plen = strlen(pattern);
	if (plen && pattern[plen - 1] == '*')
		return len >= plen - 1 && memcmp(name, pattern, plen - 1) == 0;
	return plen == len && memcmp(name, pattern, len) == 0;
}

/* Step 2's exception: the flake asked for NAME by --pass-env or --setenv. */
static bool flake_wants(const struct opts *o, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < o->nenv; i++) {
		const struct env_op *e = &o->env[i];
		if ((e->kind == ENV_PASS && pass_matches(e->arg, name, len)) ||
		    (e->kind == ENV_SET && has_name(e->arg, name, len)))
			return true;
	}
	return false;
}

/* NAME: the caller's value as getenv() gives it (the first); PREFIX*: every match. */
static void pass_env(struct words *env, const struct words *caller, const char *pattern)
{
	size_t plen = strlen(pattern);
	if (pattern[plen - 1] != '*') {
		const char *entry = find(caller, pattern, plen);
		if (entry)
			put(env, entry);
		return;
	}
	for (size_t i = 0; i < caller->n; i++) {
		size_t len = name_len(caller->v[i]);
		if (caller->v[i][len] == '=' && pass_matches(pattern, caller->v[i], len))
			put(env, caller->v[i]);
	}
}

void caller_environ(struct words *out)
{
	for (char **e = environ; *e; e++) {
		size_t len = name_len(*e);
		if (len > 0 && (*e)[len] == '=' && !find(out, *e, len))
			push_word(out, *e);
	}
}

void apply_env(const struct opts *o)
{
	struct words env = { 0 }, caller = { 0 };
	caller_environ(&env);
	for (size_t i = 0; i < o->nenviron; i++)
		put(&env, o->environ_words[i]);
	for (size_t i = 0; i < env.n; i++)
		push_word(&caller, env.v[i]);

	static const char *const loader[] = { "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT" };
	for (size_t i = 0; i < sizeof loader / sizeof *loader; i++)
		if (!flake_wants(o, loader[i]))
			remove_name(&env, loader[i], strlen(loader[i]));

	for (size_t i = 0; i < o->nimage_env; i++) {
		const char *entry = o->image_env[i];
		size_t len = name_len(entry);
		if (!(is_session_variable(entry, len) && find(&caller, entry, len)))
			put(&env, entry);
	}

	for (size_t i = 0; i < o->nenv; i++) {
		const struct env_op *e = &o->env[i];
		if (e->kind == ENV_SET)
			put(&env, e->arg);
		else if (e->kind == ENV_UNSET)
			remove_name(&env, e->arg, strlen(e->arg));
		else
			pass_env(&env, &caller, e->arg);
	}
	static char *empty[] = { NULL };
	environ = env.v ? env.v : empty;
	debug("environment: %zu variables", env.n);
}
