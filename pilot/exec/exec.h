/* The exec step of the pilot-exec binary (see exec.c); main.c dispatches to it. */
#ifndef PILOT_EXEC_H
#define PILOT_EXEC_H

/* The exec step: parse options, compose the root, execve the program. Never returns. */
int exec_main(int argc, char **argv);

#endif
