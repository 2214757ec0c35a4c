// `docker run -p` / `-P` on a wgmpls network. A wgmpls network is encrypted links between
// containers and nothing else: no bridge, no NAT, no path from the host's ports to a container.
// Answering success (as this driver once did) made Docker report the ports as published while
// nothing listened on them. So published ports are refused, with a message the docker CLI shows
// and the way out. dockerd hands the container's port bindings to the first non-internal network
// it creates an endpoint on, in CreateEndpoint's options (and again in
// ProgramExternalConnectivity when that network provides the gateway); a container that
// publishes its ports on another network first (bridge) and is then connected to a wgmpls
// network never brings them here.
import { DriverError } from '../api/errors';

/** libnetwork's netlabel.PortMap: the container's port bindings ([]types.PortBinding). */
export const PORTMAP_OPTION = 'com.docker.network.portmap';

const PROTOCOLS: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

interface PortBinding {
  Proto?: unknown;
  Port?: unknown;
  HostIP?: unknown;
  HostPort?: unknown;
}

function describe(b: PortBinding): string {
  const proto = typeof b.Proto === 'number' ? (PROTOCOLS[b.Proto] ?? String(b.Proto)) : '?';
  const host = typeof b.HostPort === 'number' && b.HostPort !== 0 ? String(b.HostPort) : '(any)';
  const ip = typeof b.HostIP === 'string' && b.HostIP !== '' ? `${b.HostIP}:` : '';
  return `${ip}${host}->${typeof b.Port === 'number' ? b.Port : '?'}/${proto}`;
}

/** Throws a DriverError naming the bindings when `options` carries any published port. */
export function refusePublishedPorts(options: Readonly<Record<string, unknown>> | null | undefined): void {
  const map = options?.[PORTMAP_OPTION];
  if (!Array.isArray(map) || map.length === 0) return;
  const shown = map.slice(0, 4).map((b) => describe((b ?? {}) as PortBinding));
  throw new DriverError(
    `wgmpls networks cannot publish ports (${shown.join(', ')}${map.length > 4 ? ', ...' : ''}): they only link containers to each other, ` +
      'nothing on the host forwards to them. Publish on a bridge network and connect the container to the wgmpls network afterwards: ' +
      'docker run -p ... --network bridge --name C IMAGE; docker network connect NETWORK C',
  );
}
