/* Entering a network namespace for one step (see netns.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <node_api.h>

#include "netns.h"

/* Moves this thread into the network namespace at `path`, remembering where it was in *orig.
 * Returns 0, or an errno with `step` naming what failed. Always pair with ns_leave(). */
int ns_enter(const char *path, int *orig, char *step, size_t steplen) {
  /* thread-self, not self: setns(CLONE_NEWNET) only moves the calling thread, and it is
   * this thread's namespace we must come back to. */
  *orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*orig < 0) {
    int err = errno;
    snprintf(step, steplen, "open current netns /proc/thread-self/ns/net");
    return err;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    snprintf(step, steplen, "open netns path %s", path);
    return err;
  }
  int rc = setns(target, CLONE_NEWNET);
  int err = errno;
  close(target);
  if (rc < 0) {
    snprintf(step, steplen, "setns(%s)%s", path, err == EINVAL ? " (not a network namespace?)" : "");
    return err;
  }
  return 0;
}

/* Back to the namespace ns_enter() saved (if it got that far). Carrying on anywhere else would
 * run the rest of the process in the container's namespace: that is fatal. */
void ns_leave(int orig, int entered, const char *who) {
  if (entered && setns(orig, CLONE_NEWNET) < 0) {
    napi_fatal_error(who, NAPI_AUTO_LENGTH, "cannot return to the original network namespace", NAPI_AUTO_LENGTH);
  }
  if (orig >= 0) close(orig);
}

