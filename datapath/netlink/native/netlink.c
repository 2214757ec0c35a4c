/*
 * Talking to a network namespace's kernel configuration from inside it: one rtnetlink request
 * and its replies (netlinkTransact), and reading or writing one /proc/sys/net file (procSys).
 *
 * Why here and not in the `netlink` npm package: a netlink socket and a /proc/sys/net file
 * belong to the namespace of the thread that opens them, and the package opens its socket
 * where the process is, with no way to enter a container's namespace first; nor can it turn on
 * NETLINK_EXT_ACK, without which the kernel's reason for a refusal ("Invalid label", ...) and
 * the offset of the attribute it refused are not sent. The messages themselves are built and
 * parsed in TypeScript (datapath/netlink/) with the package's encoders.
 *
 * Synchronous on purpose: rtnetlink handles a request inside sendmsg(), so the answer is
 * already queued when recv() runs; these are control-path calls (route installation), never
 * per packet. A receive timeout still bounds a kernel that does not answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <node_api.h>

#include "../../native/napi_util.h"
#include "../../native/module.h"
#include "../../native/netns.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
/* A dump (RTM_GETLINK of every link) can span several datagrams; each fits in this. */
#define RECV_LEN 65536
/* Replies of one request, at most: a dump of a namespace with thousands of links still fits. */
#define MAX_REPLIES 4096

/* Optional netnsPath argument: 0 with have_ns set, or -1 with an exception pending. */
static int opt_nspath(napi_env env, size_t argc, napi_value *argv, size_t at, char *buf, int *have_ns) {
  *have_ns = 0;
  if (argc <= at || is_nullish(env, argv[at])) return 0;
  if (arg_string(env, argv[at], "netnsPath", buf, PATH_MAX) != 0) return -1;
  *have_ns = 1;
  return 0;
}

/* An rtnetlink socket in the namespace at nspath (or ours), extended acks on; -1 with err/step. */
static int open_rtnl(int have_ns, const char *nspath, int *err, char *step) {
  int orig = -1, entered = 0, fd = -1;
  if (have_ns) {
    *err = ns_enter(nspath, &orig, step, STEP_LEN);
    if (*err != 0) goto out;
    entered = 1;
  }
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    *err = errno;
    snprintf(step, STEP_LEN, "socket(AF_NETLINK, NETLINK_ROUTE)");
  }
out:
  ns_leave(orig, entered, "wgmpls.netlink.open");
  if (fd < 0) return -1;
  int one = 1;
  /* Without extended acks an error carries only the errno; a kernel too old for them still
   * answers, so a failure here is not fatal. */
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/* Whether the datagram ends the exchange for `seq`: an NLMSG_ERROR (ack or error) or
 * NLMSG_DONE for it, or a message that is not a multipart part. */
static int ends_exchange(const uint8_t *buf, size_t len, uint32_t seq) {
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
    if (h->nlmsg_len < sizeof *h || off + h->nlmsg_len > len) return 1;
    if (h->nlmsg_seq == seq) {
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) return 1;
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return 0;
}

/* netlinkTransact(request, netnsPath?) -> Buffer[]: sends one complete netlink message (its
 * header's seq identifies the replies) and returns every datagram received until the ack,
 * the error or the end of a dump. */
static napi_value js_transact(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "netlinkTransact(request, netnsPath?) needs a request");
    return NULL;
  }
  void *req;
  size_t req_len;
  char nspath[PATH_MAX];
  int have_ns;
  if (arg_bytes(env, argv[0], "request", &req, &req_len) != 0) return NULL;
  if (req_len < sizeof(struct nlmsghdr)) {
    throw_type(env, "netlinkTransact: request shorter than a netlink header");
    return NULL;
  }
  if (opt_nspath(env, argc, argv, 1, nspath, &have_ns) != 0) return NULL;
  uint32_t seq = ((const struct nlmsghdr *)req)->nlmsg_seq;

  int err = 0;
  char step[STEP_LEN] = "";
  int fd = open_rtnl(have_ns, nspath, &err, step);
  if (fd < 0) {
    throw_errno(env, err, "%s", step);
    return NULL;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, req, req_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    err = errno;
    close(fd);
    throw_errno(env, err, "netlink sendto");
    return NULL;
  }
  napi_value out;
  if (napi_create_array(env, &out) != napi_ok) {
    close(fd);
    return NULL;
  }
  static uint8_t buf[RECV_LEN];
  for (uint32_t n = 0; n < MAX_REPLIES; n++) {
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      err = errno;
      close(fd);
      throw_errno(env, err, "netlink recv%s", err == EAGAIN ? " (no answer from the kernel within 5 s)" : "");
      return NULL;
    }
    napi_value b;
    void *copy;
    if (napi_create_buffer_copy(env, (size_t)got, buf, &copy, &b) != napi_ok ||
        napi_set_element(env, out, n, b) != napi_ok) {
      close(fd);
      return NULL;
    }
    if (ends_exchange(buf, (size_t)got, seq)) break;
  }
  close(fd);
  return out;
}

/* open(path, flags) inside the namespace at nspath (have_ns) or here: the fd, or -1 after
 * throwing the errno with the step that failed. /proc files opened this way stay that
 * namespace's view. */
static int open_in_ns(napi_env env, const char *nspath, int have_ns, const char *path, int flags, const char *who) {
  int err = 0, orig = -1, entered = 0, fd = -1;
  char step[STEP_LEN] = "";
  if (have_ns) {
    err = ns_enter(nspath, &orig, step, sizeof step);
    if (err != 0) goto out;
    entered = 1;
  }
  fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    snprintf(step, sizeof step, "open %s", path);
  }
out:
  ns_leave(orig, entered, who);
  if (fd < 0) throw_errno(env, err, "%s", step);
  return fd;
}

/* procSys(relPath, value?, netnsPath?) -> string: reads /proc/sys/net/<relPath> in the
 * namespace (its current value), and first writes `value` to it when given. The file is
 * opened inside the namespace: /proc/sys/net shows the opener's namespace. */
static napi_value js_proc_sys(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  char rel[256], value[256], nspath[PATH_MAX], path[320];
  int have_value = 0, have_ns;
  if (argc < 1) {
    throw_type(env, "procSys(relPath, value?, netnsPath?) needs a path");
    return NULL;
  }
  if (arg_string(env, argv[0], "relPath", rel, sizeof rel) != 0) return NULL;
  if (strstr(rel, "..") != NULL || rel[0] == '/') {
    throw_type(env, "procSys: relPath must stay under /proc/sys/net");
    return NULL;
  }
  if (argc >= 2 && !is_nullish(env, argv[1])) {
    if (arg_string(env, argv[1], "value", value, sizeof value) != 0) return NULL;
    have_value = 1;
  }
  if (opt_nspath(env, argc, argv, 2, nspath, &have_ns) != 0) return NULL;
  snprintf(path, sizeof path, "/proc/sys/net/%s", rel);

  int err = 0;
  char got[256] = "";
  ssize_t n = 0;
  int fd = open_in_ns(env, nspath, have_ns, path, have_value ? O_RDWR : O_RDONLY, "wgmpls.netlink.procSys");
  if (fd < 0) return NULL;
  if (have_value && write(fd, value, strlen(value)) < 0) {
    err = errno;
    close(fd);
    throw_errno(env, err, "write %s to %s", value, path);
    return NULL;
  }
  if (have_value) lseek(fd, 0, SEEK_SET);
  n = read(fd, got, sizeof got - 1);
  err = errno;
  close(fd);
  if (n < 0) {
    throw_errno(env, err, "read %s", path);
    return NULL;
  }
  got[n] = '\0';
  napi_value s;
  if (napi_create_string_utf8(env, got, (size_t)n, &s) != napi_ok) return NULL;
  return s;
}

/* openProcNet(name, netnsPath?) -> fd: /proc/net/<name> of the namespace, read-only. The file is
 * bound to the namespace it was opened in, so the caller keeps the fd and re-reads it from offset
 * 0 (pread) without entering the namespace again. */
static napi_value js_open_proc_net(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  char name[64], nspath[PATH_MAX], path[96];
  int have_ns;
  if (argc < 1) {
    throw_type(env, "openProcNet(name, netnsPath?) needs a name");
    return NULL;
  }
  if (arg_string(env, argv[0], "name", name, sizeof name) != 0) return NULL;
  for (const char *c = name; *c; c++) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
      throw_type(env, "openProcNet: name must be a /proc/net file name (a-z, 0-9, _)");
      return NULL;
    }
  }
  if (name[0] == '\0') {
    throw_type(env, "openProcNet: name is empty");
    return NULL;
  }
  if (opt_nspath(env, argc, argv, 1, nspath, &have_ns) != 0) return NULL;
  /* thread-self: /proc/self/net is the main thread's namespace, not the one we just entered. */
  snprintf(path, sizeof path, "/proc/thread-self/net/%s", name);
  int fd = open_in_ns(env, nspath, have_ns, path, O_RDONLY, "wgmpls.netlink.openProcNet");
  if (fd < 0) return NULL;
  napi_value v;
  if (napi_create_int32(env, fd, &v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return v;
}

int netlink_register(napi_env env, napi_value exports) {
  if (export_fn(env, exports, "netlinkTransact", js_transact) != 0 ||
      export_fn(env, exports, "procSys", js_proc_sys) != 0 ||
      export_fn(env, exports, "openProcNet", js_open_proc_net) != 0) {
    return -1;
  }
  return 0;
}
