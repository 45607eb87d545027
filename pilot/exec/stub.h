/* The warm-path stub of the pilot-exec binary (see stub.c); main.c dispatches to it. */
#ifndef PILOT_STUB_H
#define PILOT_STUB_H

/* Runs the plan cached for APP as the exec step, or falls back to the Node launcher.
 * Never returns. */
int stub_main(int argc, char **argv, const char *app);

#endif
