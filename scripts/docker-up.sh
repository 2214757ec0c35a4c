#!/usr/bin/env bash
# Makes sure a Docker daemon answers on /var/run/docker.sock: if one does, nothing is done;
# otherwise Debian's dockerd (package docker.io, no systemd needed) is started in the
# background, and this waits until `docker info` succeeds (at most 60 s). Run as root.
#
#   scripts/docker-up.sh        # then scripts/docker-down.sh stops only what this started
#
# Log: /tmp/wgmpls-dockerd.log; pid: /run/wgmpls-dockerd.pid (only written when this script
# started the daemon). On a fresh machine it first mounts the cgroup filesystem if nothing is
# mounted on /sys/fs/cgroup, and probes the kernel for what dockerd's defaults need:
#   - iptables: Debian 12's iptables is the nf_tables backend (iptables-nft), and dockerd 20.10
#     works with it (its DOCKER chains appear in `iptables -S`), so iptables stays on. Only if
#     `iptables` cannot list the filter and nat tables (no binary, or a kernel without
#     nf_tables/ip_tables) is dockerd started with --iptables=false: bridge networks then have
#     no NAT and no published ports, which the lab does not use (no registry is reachable, lab
#     links are wgmpls networks).
#   - a bridge device for docker0: if the kernel cannot create one, --bridge=none.
#   - AppArmor: if the kernel has it on, apparmor_parser must exist (package apparmor) or every
#     container fails to start ("AppArmor enabled on system but the docker-default profile
#     could not be loaded"); this fails early saying so.
# Overrides (to run a second, private daemon, e.g. to test these scripts):
#   WGMPLS_DOCKER_SOCK      socket path                  (default /var/run/docker.sock)
#   WGMPLS_DOCKERD_PIDFILE  this script's pid file       (default /run/wgmpls-dockerd.pid)
#   WGMPLS_DOCKERD_LOG      log file                     (default /tmp/wgmpls-dockerd.log)
#   WGMPLS_DOCKERD_ARGS     extra dockerd flags, split on spaces (e.g. --data-root /x
#                           --exec-root /y --pidfile /z --bridge=none --iptables=false);
#                           --iptables / --bridge given here skip the probes.
#   WGMPLS_DOCKERD_WAIT     seconds to wait for `docker info` (default 60)
set -euo pipefail

SOCK=${WGMPLS_DOCKER_SOCK:-/var/run/docker.sock}
PIDFILE=${WGMPLS_DOCKERD_PIDFILE:-/run/wgmpls-dockerd.pid}
LOG=${WGMPLS_DOCKERD_LOG:-/tmp/wgmpls-dockerd.log}
read -r -a EXTRA <<<"${WGMPLS_DOCKERD_ARGS:-}"
WAIT=${WGMPLS_DOCKERD_WAIT:-60}
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}" # dockerd needs iptables, containerd, runc

say() { echo "docker-up: $*" >&2; }
die() { echo "docker-up: $*" >&2; exit 1; }

command -v docker >/dev/null || die "no docker client (apt-get install docker.io)"
answers() { timeout 10 docker -H "unix://$SOCK" info >/dev/null 2>&1; }

if answers; then
  say "a Docker daemon already answers on $SOCK: nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "no Docker daemon answers on $SOCK, and starting one needs root"
command -v dockerd >/dev/null || die "no dockerd (apt-get install docker.io)"
for b in containerd runc; do command -v "$b" >/dev/null || die "no $b (Debian's docker.io depends on it: apt-get install docker.io)"; done

# A live process (not a zombie nobody reaped yet) with that pid.
is_alive() {
  local stat
  [ -n "${1:-}" ] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ] && [ "${stat:0:1}" != X ]
}
# ... and it is a dockerd (a pid from a file may have been reused since).
is_dockerd() { is_alive "${1:-}" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ]; }

# `docker info` succeeds, or the daemon died (log shown), or WAIT seconds pass. $2=child: the
# pid is our own child, which may not have exec'd dockerd yet.
wait_up() {
  local pid=$1 t0=$SECONDS
  while ((SECONDS - t0 < WAIT)); do
    if answers; then
      say "dockerd (pid $pid) answers on $SOCK after $((SECONDS - t0)) s; log: $LOG"
      return 0
    fi
    if { [ "${2:-}" = child ] && ! is_alive "$pid"; } || { [ "${2:-}" != child ] && ! is_dockerd "$pid"; }; then
      rm -f "$PIDFILE"
      tail -n 20 "$LOG" >&2 || true
      die "dockerd (pid $pid) exited before answering; the end of $LOG is above"
    fi
    sleep 0.5
  done
  return 1
}

# A dockerd this script started earlier that is still coming up: wait for it, never start a second.
if [ -f "$PIDFILE" ]; then
  pid=$(cat "$PIDFILE")
  if is_dockerd "$pid"; then
    say "dockerd (pid $pid, started by an earlier docker-up) does not answer yet: waiting"
    wait_up "$pid" && exit 0
    die "dockerd (pid $pid) still does not answer on $SOCK after ${WAIT} s; see $LOG, or scripts/docker-down.sh"
  fi
  rm -f "$PIDFILE" # stale
fi

# A dockerd that is not ours but holds the daemon pid file: starting another would fail anyway.
dockerd_pidfile=/var/run/docker.pid
for ((i = 0; i < ${#EXTRA[@]}; i++)); do
  case "${EXTRA[i]}" in
    --pidfile=* | -p=*) dockerd_pidfile=${EXTRA[i]#*=} ;;
    --pidfile | -p) dockerd_pidfile=${EXTRA[i + 1]:-} ;;
  esac
done
if [ -f "$dockerd_pidfile" ] && is_dockerd "$(cat "$dockerd_pidfile")"; then
  die "a dockerd (pid $(cat "$dockerd_pidfile"), not started by this script) is running but does not answer on $SOCK; not starting another"
fi

# cgroups: dockerd refuses to start without them. systemd mounts them; a bare VM or a minimal
# init may not (Debian's cgroupfs-mount package, only recommended by docker.io, would).
ensure_cgroups() {
  if awk '$5 ~ "^/sys/fs/cgroup" {split($0, a, " - "); split(a[2], b, " "); if (b[1] ~ /^cgroup2?$/) found=1} END {exit !found}' /proc/self/mountinfo; then
    return 0
  fi
  say "no cgroup filesystem mounted under /sys/fs/cgroup: mounting one"
  mountpoint -q /sys || mount -t sysfs sysfs /sys
  mkdir -p /sys/fs/cgroup 2>/dev/null || true
  if grep -qw cgroup2 /proc/filesystems && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null &&
    [ -s /sys/fs/cgroup/cgroup.controllers ]; then
    say "mounted cgroup2 on /sys/fs/cgroup (controllers: $(cat /sys/fs/cgroup/cgroup.controllers))"
    return 0
  fi
  mountpoint -q /sys/fs/cgroup && umount /sys/fs/cgroup
  # cgroup v1, as cgroupfs-mount does: a tmpfs with one hierarchy per enabled controller.
  mount -t tmpfs -o uid=0,gid=0,mode=0755 cgroup /sys/fs/cgroup || die "cannot mount a tmpfs on /sys/fs/cgroup"
  local ss
  for ss in $(awk '!/^#/ && $4 == 1 {print $1}' /proc/cgroups); do
    mkdir -p "/sys/fs/cgroup/$ss"
    mountpoint -q "/sys/fs/cgroup/$ss" || mount -n -t cgroup -o "$ss" cgroup "/sys/fs/cgroup/$ss" ||
      say "could not mount cgroup controller $ss (continuing)"
  done
  if ! mountpoint -q /sys/fs/cgroup/devices; then
    die "could not mount the cgroup filesystem (no cgroup2, no v1 devices controller): see /proc/cgroups"
  fi
  say "mounted cgroup v1 hierarchies under /sys/fs/cgroup"
}
ensure_cgroups

args=(-H "unix://$SOCK")
has_flag() { local a; for a in "${EXTRA[@]}"; do case "$a" in "$1" | "$1"=*) return 0 ;; esac; done; return 1; }

if ! has_flag --iptables; then
  if ! command -v iptables >/dev/null; then
    say "no iptables binary: starting dockerd with --iptables=false (no NAT for bridge networks)"
    args+=(--iptables=false)
  elif ! { iptables -w -t filter -L -n >/dev/null 2>&1 && iptables -w -t nat -L -n >/dev/null 2>&1; }; then
    say "iptables ($(iptables --version 2>&1)) cannot list the filter/nat tables: starting dockerd with --iptables=false (no NAT for bridge networks)"
    args+=(--iptables=false)
  fi
fi
if ! has_flag --bridge && ! has_flag -b; then
  # Probe in a throwaway network namespace: nothing is left on the host.
  if ! unshare -n ip link add wgmpls-brprobe type bridge >/dev/null 2>&1; then
    say "the kernel cannot create a bridge: starting dockerd with --bridge=none (only --network none/host and plugin networks)"
    args+=(--bridge=none)
  fi
fi
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && ! command -v apparmor_parser >/dev/null; then
  die "AppArmor is enabled in the kernel but apparmor_parser is missing: every container would fail to start (apt-get install apparmor)"
fi

mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")" "$(dirname "$SOCK")"
{ echo; echo "=== docker-up $(date -u +%FT%TZ): dockerd ${args[*]} ${EXTRA[*]}"; } >>"$LOG"
# setsid: its own session, so a Ctrl-C or a CI step's process-group kill does not reach it.
setsid dockerd "${args[@]}" "${EXTRA[@]}" </dev/null >>"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"
say "started dockerd (pid $pid): ${args[*]} ${EXTRA[*]}"

if ! wait_up "$pid" child; then
  tail -n 20 "$LOG" >&2 || true
  say "dockerd (pid $pid) does not answer on $SOCK after ${WAIT} s; stopping it (the end of $LOG is above)"
  WGMPLS_DOCKERD_PIDFILE=$PIDFILE WGMPLS_DOCKER_SOCK=$SOCK bash "$(dirname "$0")/docker-down.sh" >&2 || true
  exit 1
fi
