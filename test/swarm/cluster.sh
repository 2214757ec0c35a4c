#!/usr/bin/env bash
# A swarm of dockerds on one machine, for test/swarm (and by hand):
#
#   test/swarm/cluster.sh up DIR [N]      N nodes (default 3): namespaces, bridge, containerds, dockerds
#   test/swarm/cluster.sh start-dockerd DIR I     (again) start node I's dockerd (after a kill)
#   test/swarm/cluster.sh down DIR        stops everything it started and removes DIR
#
# Node I (1..N) is a network namespace $CLUSTER-nI (default wgswarm-nI) with eth0 = 10.213.77.(10+I)/24 on a bridge
# in a namespace of its own, $CLUSTER-sw (in the host namespace, the host's firewall - dockerd's
# FORWARD DROP, which br_netfilter applies to bridged packets - would drop them; the private
# addresses exist only inside the namespaces). In it run a containerd and a dockerd of its own, entered
# with nsenter --net only (not `ip netns exec`: that gives a mount namespace of its own, and the
# plugin then could not reach the dockerd's SandboxKeys through /proc/<dockerd>/root ... any
# more than it can now, but containerd and dockerd must share one mount namespace). Everything
# of node I is under DIR/nI: data-root, exec-root, pid file, socket docker.sock, logs.
# Nothing here touches the host's own dockerd.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
die() { echo "cluster.sh: $*" >&2; exit 1; }

# CLUSTER (default wgswarm) names the namespaces: two clusters can exist side by side.
NAME=${CLUSTER:-wgswarm}
BR=br0
SW=$NAME-sw
ns() { echo "$NAME-n$1"; }
addr() { echo "10.213.77.$((10 + $1))"; }

start_containerd() {
  local d=$1 i=$2
  mkdir -p "$d/containerd"
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  nsenter --net="/run/netns/$(ns "$i")" setsid containerd --config "$d/containerd.toml" >"$d/containerd.log" 2>&1 </dev/null &
  echo $! >"$d/containerd.pid"
  for _ in $(seq 100); do [ -S "$d/containerd.sock" ] && return 0; sleep 0.1; done
  die "containerd of node $i does not start: $(tail -5 "$d/containerd.log")"
}

start_dockerd() {
  local d=$1 i=$2
  echo '{}' >"$d/daemon.json"
  # --bridge=none: the containers here only use wgmpls networks; no docker0 in the namespaces.
  nsenter --net="/run/netns/$(ns "$i")" setsid dockerd --config-file "$d/daemon.json" \
    --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
    -H "unix://$d/docker.sock" --containerd "$d/containerd.sock" \
    --bridge=none --iptables=false --ip-masq=false --userland-proxy=false \
    >>"$d/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 300); do
    docker -H "unix://$d/docker.sock" info >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "dockerd of node $i does not answer: $(tail -5 "$d/dockerd.log")"
}

up() {
  local dir=$1 n=${2:-3}
  mkdir -p "$dir"
  echo "$NAME" >"$dir/cluster" # for `down` (and CI's clean-up), whatever CLUSTER says then
  ip netns add "$SW"
  ip -n "$SW" link add "$BR" type bridge
  ip -n "$SW" link set "$BR" up
  for i in $(seq "$n"); do
    local d="$dir/n$i"
    mkdir -p "$d"
    ip netns add "$(ns "$i")"
    ip -n "$SW" link add "v$i" type veth peer name eth0 netns "$(ns "$i")"
    ip -n "$SW" link set "v$i" master "$BR" up
    ip -n "$(ns "$i")" addr add "$(addr "$i")/24" dev eth0
    ip -n "$(ns "$i")" link set eth0 up
    ip -n "$(ns "$i")" link set lo up
    start_containerd "$d" "$i"
    start_dockerd "$d" "$i"
  done
}

down() {
  local dir=$1 i pid
  [ -f "$dir/cluster" ] && NAME=$(cat "$dir/cluster") && SW=$NAME-sw
  for d in "$dir"/n*; do
    [ -d "$d" ] || continue
    i=${d##*/n}
    # Containers and plugins first, while dockerd still answers (their TUNs, mounts).
    if docker -H "unix://$d/docker.sock" info >/dev/null 2>&1; then
      docker -H "unix://$d/docker.sock" rm -f $(docker -H "unix://$d/docker.sock" ps -aq) >/dev/null 2>&1 || true
      for p in $(docker -H "unix://$d/docker.sock" plugin ls -q 2>/dev/null); do
        docker -H "unix://$d/docker.sock" plugin disable -f "$p" >/dev/null 2>&1 || true
      done
    fi
    for f in "$d/docker.pid" "$d/containerd.pid"; do
      pid=$(cat "$f" 2>/dev/null || true)
      [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for _ in $(seq 100); do
      pid=$(cat "$d/docker.pid" 2>/dev/null || true)
      [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null && break
      sleep 0.1
    done
    pid=$(cat "$d/containerd.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    # Shims of its containers and plugins (their command lines name the node's directory).
    for pid in $(pgrep -f -- "$d/containerd" || true); do kill -9 "$pid" 2>/dev/null || true; done
    # Mounts left under the node's directory (netns files, overlay, plugin rootfs), deepest first.
    { grep -o " $d/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    ip netns del "$(ns "$i")" 2>/dev/null || true
  done
  ip netns del "$SW" 2>/dev/null || true
  rm -rf "$dir"
}

case "${1:-}" in
  up) up "$2" "${3:-3}" ;;
  start-dockerd) start_dockerd "$2/n$3" "$3" ;;
  down) down "$2" ;;
  *) die "usage: cluster.sh up DIR [N] | start-dockerd DIR I | down DIR" ;;
esac
