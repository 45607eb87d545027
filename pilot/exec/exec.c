/*
 * pilot-exec: the exec step of the pilot launcher (see DESIGN.md, "Running").
 *
 * The Node launcher (plan step) computes everything and spawns this program with
 * stdio inherited. pilot-exec enters a private mount namespace, composes the app's
 * root with one overlay mount on a private tmpfs, bind-mounts host paths into it,
 * chroots, drops to the app's ids, builds its environment (env.c) and execve()s the
 * app IN PLACE: it never forks, so the app is the very process Node spawned and its
 * signals and exit code are native. No PID namespace (PID 1 ignores SIGTERM), no
 * bubblewrap (it forks).
 *
 *   pilot-exec [OPTIONS] -- PROGRAM [ARGS...]     (options: usage_text in options.c,
 *                                                  their rules: docs/plan.md)
 *
 * Exit codes of its own: 125 setup failed (with a message "pilot: WHAT: PATH: ERROR"),
 * 126 the program cannot be executed, 127 the program is not in the image.
 *
 * It is self-contained C (libc only, linked statically) because a warm launch runs
 * it from the stub (stub.c) without starting Node. The Node launcher passes its
 * words through a pipe (--argv-fd), so that the caller's bytes arrive unchanged.
 * It has no privileges of its own (it is not setuid): everything it does, the
 * caller could do with unshare(1) and mount(8); it only does it in ~1 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binds.h"
#include "caps.h"
#include "env.h"
#include "exec.h"
#include "mount.h"
#include "options.h"
#include "targets.h"
#include "userns.h"
#include "util.h"

/* chroot into the composed root and change to --cwd inside it (a symlink in --cwd
 * now resolves inside the new root, as the app would see it). */
static void enter_root(const struct opts *o, const struct layout *l)
{
	if (chroot(l->root) < 0)
		die_errno("cannot chroot", l->root, errno);
	enter_cwd(o);
	debug("chroot %s, cwd %s", l->root, o->cwd);
}

/* execvp in place: from here on this process IS the app. PATH is the app's (env.c),
 * looked up inside the new root. */
static _Noreturn void exec_program(const struct opts *o)
{
	debug("exec %s", o->argv[0]);
	execvp(o->argv[0], o->argv);
	int err = errno;
	if (err == ENOENT) {
		/* A program that exists but whose interpreter (ELF loader, #!) is missing
		 * also gives ENOENT: say so, it is a different fix. */
		if (strchr(o->argv[0], '/') && access(o->argv[0], F_OK) == 0)
			fprintf(stderr, "pilot: %s: its interpreter is not found in the image\n",
				o->argv[0]);
		else
			fprintf(stderr, "pilot: %s: not found in the image\n", o->argv[0]);
		exit(EXIT_NOT_FOUND);
	}
	fprintf(stderr, "pilot: %s: %s\n", o->argv[0], strerror(err));
	exit(EXIT_CANNOT_EXEC);
}

/* Called by main() in main.c: as `pilot-exec`, or by the warm-path stub with the
 * command line it built from a plan. */
int exec_main(int argc, char **argv)
{
	start_debug_clock();
	struct opts o = { 0 };
	parse_args(argc, argv, &o);
	set_debug(o.debug);
	debug("parsed options");

	static struct layout l;
	plan_layout(&o, &l);
	/* Creations below use explicit modes (0755 dirs, 0644 files): a caller's umask
	 * such as 077 would make placeholder dirs untraversable for the app's uid. */
	mode_t saved_umask = umask(0);

	note_caller_caps(&o);
	enter_namespaces(&o);
	open_start_dir();
	make_mounts_private();
	mount_scratch(&o, &l);
	if (o.root) {
		mount_given_root(&o, &l);
	} else {
		if (l.use_probe)
			prepare_targets(&o, &l);
		mount_overlay(&o, &l, false);
	}
	do_binds(&o, &l);
	if (o.read_only)
		make_root_read_only(&l);
	if (o.userns)
		enter_caller_userns(&o);
	enter_root(&o, &l);
	/* Still privileged (for --userns: root of the inner namespace, whose bounding set
	 * starts full): what the app must never have leaves the bounding set now. */
	drop_bounding_caps(&o);
	keep_caps_across_setuid(&o);
	drop_ids(&o);
	set_caps(&o);
	umask(saved_umask);
	apply_env(&o);
	set_no_new_privs(&o);
	exec_program(&o);
}
