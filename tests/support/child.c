/*
 * child.c - child processes of a test (see child.h). Every child is
 * recorded in a small table, with its temp dir, from spawn until it has
 * been reaped, so that an atexit handler can stop and clean up what a
 * failed test left running.
 */
#define _GNU_SOURCE

#include "child.h"

#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_CHILDREN 32

/* A running child and the temp dir to remove with it ("" if none). */
typedef struct child {
  pid_t pid;
  char dir[128];
} child;

static child children[MAX_CHILDREN];
static int atexit_registered;

static void forget(pid_t pid) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid == pid)
      children[i].pid = 0;
}

/* At exit: what a failed test left running, and its temp dir. */
static void stop_all(void) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid > 0) {
      tc_stop(children[i].pid, 2000);
      if (children[i].dir[0] != '\0')
        tu_remove_tree(children[i].dir);
    }
  }
}

static void remember(pid_t pid, const char *dir) {
  if (!atexit_registered) {
    atexit(stop_all);
    atexit_registered = 1;
  }
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid == 0) {
      children[i].pid = pid;
      snprintf(children[i].dir, sizeof(children[i].dir), "%s",
               dir != NULL ? dir : "");
      return;
    }
  }
}

pid_t tc_spawn(char *const argv[], int stdout_fd, const tc_run_as *as,
               const char *dir) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    perror("tc_spawn: /dev/null");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("tc_spawn: fork");
    close(null_fd);
    return -1;
  }
  if (pid == 0) {
    if (dup2(null_fd, STDIN_FILENO) < 0)
      _exit(126);
    if (stdout_fd >= 0 && dup2(stdout_fd, STDOUT_FILENO) < 0)
      _exit(126);
    if (as != NULL && (setgroups(0, NULL) != 0 || setgid(as->gid) != 0 ||
                       setuid(as->uid) != 0))
      _exit(125);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    execvp(argv[0], argv);
    _exit(127);
  }
  close(null_fd);
  remember(pid, dir);
  return pid;
}

int tc_wait(pid_t pid, unsigned timeout_ms) {
  uint64_t deadline = tu_now_ms() + timeout_ms;
  int status = 0, rc = -1;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (r < 0 && errno != EINTR)
      break;
    if (tu_now_ms() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    tu_sleep_ms(5);
  }
  forget(pid);
  return rc;
}

void tc_stop(pid_t pid, unsigned grace_ms) {
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  tc_wait(pid, grace_ms);
}

int tc_exited(pid_t pid) {
  int status;
  if (waitpid(pid, &status, WNOHANG) != pid)
    return 0;
  forget(pid);
  return 1;
}
