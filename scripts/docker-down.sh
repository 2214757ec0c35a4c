#!/usr/bin/env bash
# Stops the dockerd that scripts/docker-up.sh started (the pid in /run/wgmpls-dockerd.pid, and
# nothing else), waits for it to exit, then removes what it may leave behind: its containerd,
# containerd shims (and the containers under them) that talk to that containerd, mounts under
# its exec-root and data-root, a stale socket and pid file. A daemon docker-up did not start is
# never touched. Bounded: at most about WGMPLS_DOCKERD_STOP_WAIT (default 30) + 10 s.
# Honours the same WGMPLS_DOCKERD_PIDFILE and WGMPLS_DOCKER_SOCK as docker-up.sh.
set -uo pipefail

PIDFILE=${WGMPLS_DOCKERD_PIDFILE:-/run/wgmpls-dockerd.pid}
SOCK_DEFAULT=${WGMPLS_DOCKER_SOCK:-/var/run/docker.sock}
STOP_WAIT=${WGMPLS_DOCKERD_STOP_WAIT:-30}

say() { echo "docker-down: $*" >&2; }

if [ ! -f "$PIDFILE" ]; then
  say "no $PIDFILE: docker-up did not start a dockerd, nothing to stop"
  exit 0
fi
pid=$(cat "$PIDFILE")
case "$pid" in '' | *[!0-9]*)
  say "$PIDFILE does not hold a pid ('$pid'): removing it"
  rm -f "$PIDFILE"
  exit 0
  ;;
esac

comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
# Same pid AND same program (a reused pid is not ours), and not a zombie nobody reaped yet.
alive_as() {
  [ "$(comm_of "$1")" = "$2" ] || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ] && [ "${stat:0:1}" != X ]
}
# Sends SIG to PID if it still runs PROG, waits up to SECONDS for it to go; 0 when gone.
stop_pid() {
  local p=$1 prog=$2 sig=$3 secs=$4 t0=$SECONDS
  alive_as "$p" "$prog" || return 0
  kill "-$sig" "$p" 2>/dev/null || true
  while ((SECONDS - t0 < secs)); do
    alive_as "$p" "$prog" || return 0
    sleep 0.2
  done
  ! alive_as "$p" "$prog"
}
children_of() { pgrep -P "$1" 2>/dev/null || true; }
descendants_of() {
  local c
  for c in $(children_of "$1"); do
    echo "$c"
    descendants_of "$c"
  done
}

# Where that daemon keeps its things: from its own command line, or (when it is gone) from
# the same WGMPLS_DOCKER_SOCK / WGMPLS_DOCKERD_ARGS docker-up was given; dockerd's defaults else.
exec_root=/var/run/docker data_root=/var/lib/docker sock=$SOCK_DEFAULT dockerd_pidfile=/var/run/docker.pid
parse_dockerd_args() { # sets the four above from "$@"
  local i a next
  local -a v=("$@")
  for ((i = 0; i < ${#v[@]}; i++)); do
    a=${v[i]} next=${v[i + 1]:-}
    case "$a" in
      --exec-root=*) exec_root=${a#*=} ;; --exec-root) exec_root=$next ;;
      --data-root=* | -g=* | --graph=*) data_root=${a#*=} ;; --data-root | -g | --graph) data_root=$next ;;
      --pidfile=* | -p=*) dockerd_pidfile=${a#*=} ;; --pidfile | -p) dockerd_pidfile=$next ;;
      --host=unix://* | -H=unix://*) sock=${a#*=unix://} ;; --host | -H) case "$next" in unix://*) sock=${next#unix://} ;; esac ;;
    esac
  done
}
exec_root_of() { # the --exec-root of a running dockerd
  local er=/var/run/docker i
  local -a v
  mapfile -d '' v <"/proc/$1/cmdline" 2>/dev/null || return 0
  for ((i = 0; i < ${#v[@]}; i++)); do
    case "${v[i]}" in --exec-root=*) er=${v[i]#*=} ;; --exec-root) er=${v[i + 1]:-} ;; esac
  done
  readlink -m "$er"
}
read -r -a extra <<<"${WGMPLS_DOCKERD_ARGS:-}"
parse_dockerd_args -H "unix://$SOCK_DEFAULT" "${extra[@]}"
containerd_pids=""
if alive_as "$pid" dockerd; then
  mapfile -d '' argv <"/proc/$pid/cmdline" || true
  parse_dockerd_args "${argv[@]}"
  for c in $(children_of "$pid"); do alive_as "$c" containerd && containerd_pids+=" $c"; done

  # dockerd stops its containers (each gets its stop timeout, 10 s by default) and its
  # containerd on SIGTERM.
  say "stopping dockerd (pid $pid)"
  if ! stop_pid "$pid" dockerd TERM "$STOP_WAIT"; then
    say "dockerd (pid $pid) still running after ${STOP_WAIT} s: SIGKILL"
    stop_pid "$pid" dockerd KILL 5 || say "dockerd (pid $pid) survives SIGKILL (stuck in the kernel?)"
  fi
else
  say "dockerd (pid $pid) is not running any more"
fi

if alive_as "$pid" dockerd; then
  say "dockerd (pid $pid) could not be stopped; $PIDFILE kept"
  exit 1
fi

# Its containerd (started by dockerd under <exec-root>/containerd), if dockerd did not stop it.
for c in $containerd_pids; do
  stop_pid "$c" containerd TERM 5 || stop_pid "$c" containerd KILL 2 || say "containerd (pid $c) survives SIGKILL"
done

# If another dockerd now runs on the same exec-root, the shims and mounts there are its own.
others=""
for o in $(pgrep -x dockerd 2>/dev/null || true); do
  # Ours may linger as a zombie its parent has not reaped yet: gone, not another daemon.
  [ "$o" = "$pid" ] && continue
  alive_as "$o" dockerd || continue
  if [ "$(exec_root_of "$o")" = "$(readlink -m "$exec_root")" ]; then others+=" $o"; fi
done

if [ -n "$others" ]; then
  say "another dockerd (pid$others) uses $exec_root: leaving the shims and mounts there alone"
else
  # Its containerd, if dockerd was gone before we could note it (dockerd runs it as
  # `containerd --config <exec-root>/containerd/containerd.toml`).
  for c in $(pgrep -x containerd 2>/dev/null || true); do
    argv_c=$(tr '\0' '\n' <"/proc/$c/cmdline" 2>/dev/null) || continue
    if grep -qxF -- "$exec_root/containerd/containerd.toml" <<<"$argv_c"; then
      say "stopping containerd (pid $c) left by that dockerd"
      stop_pid "$c" containerd TERM 5 || stop_pid "$c" containerd KILL 2 || say "containerd (pid $c) survives SIGKILL"
    fi
  done
  # Shims of that containerd, with whatever container still runs under them: a shim is
  # `containerd-shim-runc-v2 -namespace moby -id ID -address <exec-root>/containerd/containerd.sock`.
  address="$exec_root/containerd/containerd.sock"
  for s in $(pgrep -f -- "-address $address" 2>/dev/null || true); do
    case "$(comm_of "$s")" in containerd-shim*) ;; *) continue ;; esac
    argv_s=$(tr '\0' '\n' <"/proc/$s/cmdline" 2>/dev/null) || continue
    grep -qxF -- "$address" <<<"$argv_s" || continue
    procs=$(descendants_of "$s")
    say "removing containerd shim (pid $s) and the $(wc -w <<<"$procs") container processes under it"
    for d in $procs; do kill -KILL "$d" 2>/dev/null || true; done
    stop_pid "$s" "$(comm_of "$s")" KILL 3 || say "shim (pid $s) survives SIGKILL"
  done

  # Mounts it left (container rootfs overlays, network namespace files), deepest first, strictly
  # below its two roots (a root itself may be a mount: /var/lib/docker often is); mountinfo
  # shows canonical paths (/run, not /var/run) and escapes a space as \040.
  awk -v a="$(readlink -m "$exec_root")/" -v b="$(readlink -m "$data_root")/" \
    'index($5, a) == 1 || index($5, b) == 1 {print $5}' /proc/self/mountinfo |
    sort -r | while read -r m; do
      m=$(printf '%b' "$m")
      if umount -l "$m" 2>/dev/null; then say "unmounted $m"; fi
    done
  # dockerd bind-mounts its data-root onto itself (to make it a shared mount) when it is not a
  # mount point already, and notes it in <exec-root>/unmount-on-shutdown; a killed dockerd
  # leaves that mount. A data-root that was a mount before (its own disk) has no such note.
  if [ -e "$exec_root/unmount-on-shutdown" ]; then
    if mountpoint -q "$data_root" && umount -l "$data_root" 2>/dev/null; then say "unmounted $data_root (dockerd's own bind mount)"; fi
    rm -f "$exec_root/unmount-on-shutdown"
  fi
fi

# A socket and pid file dockerd did not remove (it was killed), unless something answers there.
if [ -S "$sock" ] && ! timeout 5 docker -H "unix://$sock" info >/dev/null 2>&1; then rm -f "$sock"; fi
if [ -f "$dockerd_pidfile" ] && [ "$(cat "$dockerd_pidfile" 2>/dev/null)" = "$pid" ]; then rm -f "$dockerd_pidfile"; fi
rm -f "$PIDFILE"
say "done"
