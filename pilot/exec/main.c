/*
 * main() of the pilot-exec binary. Run as "pilot-exec" it is the exec step (exec.c),
 * or with --build-tree the host-layer builder (tree.c);
 * under any other name it is an app's link, the warm-path stub (stub.c).
 */
#include <string.h>

#include "exec.h"
#include "stub.h"
#include "tree.h"

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int main(int argc, char **argv)
{
	const char *self = base_name(argv[0]);
	if (strcmp(self, "pilot-exec") == 0) {
		if (argc > 1 && strcmp(argv[1], "--build-tree") == 0)
			return tree_main(argc, argv);
		return exec_main(argc, argv);
	}
	return stub_main(argc, argv, self);
}
