/* pilot-exec --build-tree: a host layer built with beneath-only, no-follow operations. */
#ifndef PILOT_TREE_H
#define PILOT_TREE_H

/* argv[1] is "--build-tree"; returns the exit code. */
int tree_main(int argc, char **argv);

#endif
