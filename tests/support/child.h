/*
 * child.h - the child processes of a test (servers, squid, helper
 * programs): spawned so that they die with the test, recorded with a temp
 * dir until they have been reaped, and stopped at exit (their dirs
 * removed) if a failed test skipped its stop call (cmocka leaves a test by
 * longjmp). Call these from the test's main thread only.
 */
#ifndef AH_TEST_CHILD_H
#define AH_TEST_CHILD_H

#include <sys/types.h>

/* Who a child runs as (see tc_spawn). */
typedef struct tc_run_as {
  uid_t uid;
  gid_t gid;
} tc_run_as;

/*
 * Forks and execs argv[0] (a path, or searched in PATH), with stdin on
 * /dev/null and stdout on `stdout_fd` unless that is -1. With `as`
 * non-NULL the child drops to that user and group first. On Linux it gets
 * PR_SET_PDEATHSIG (after the change of user, which would clear it), so it
 * dies with the test even if the test crashes. `dir` (may be NULL) is
 * removed if the child is still recorded at exit. Everything the child
 * needs is prepared before fork, because sessions' I/O threads may be
 * running: between fork and exec it makes only async-signal-safe calls.
 * Returns the pid, or -1 (message printed).
 */
pid_t tc_spawn(char *const argv[], int stdout_fd, const tc_run_as *as,
               const char *dir);

/*
 * Waits up to `timeout_ms` for the child to exit, then kills it
 * (SIGKILL); reaps it and forgets it. Returns its exit status, or -1 if it
 * was killed by a signal or timed out.
 */
int tc_wait(pid_t pid, unsigned timeout_ms);

/* SIGTERM, then tc_wait with `grace_ms`. A pid <= 0 is ignored. */
void tc_stop(pid_t pid, unsigned grace_ms);

/*
 * Whether the child has exited, without waiting; if it has, it is reaped
 * and forgotten.
 */
int tc_exited(pid_t pid);

#endif
