/* The kernel's own answer for image-tree.test.ts: resolves each path read from stdin
 * (one a line) inside ROOT as a chroot would (openat2 RESOLVE_IN_ROOT: absolute links
 * and `..` stop at ROOT) and prints the path it reached, relative to ROOT, or
 * `!ERRNO-NAME`. O_PATH: nothing is opened for reading, a FIFO cannot block. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int root = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return 2;
  char root_path[4096], line[4096], proc[64], found[4096];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", root);
  ssize_t root_len = readlink(proc, root_path, sizeof root_path - 1);
  if (root_len < 0) return 2;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, root, line, &how, sizeof how);
    if (fd < 0) {
      printf("!%s\n", errno == ELOOP ? "ELOOP" : errno == ENOENT ? "ENOENT" : "OTHER");
      continue;
    }
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, found, sizeof found - 1);
    close(fd);
    if (n < root_len) return 3;
    found[n] = '\0';
    printf("%s\n", n == root_len ? "/" : found + root_len);
  }
  return 0;
}
