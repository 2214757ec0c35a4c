// The swarm's node addresses as dockerd knows them, for the endpoint exchange (plugin/swarm).
// dockerd tells a driver about other nodes (DiscoverNew) only as they join after the driver was
// registered, so a plugin enabled on a node already in a swarm, or restarted, hears of none:
// this fills in. Any node's dockerd names the managers (/info: RemoteManagers); a manager's
// also lists every node (/nodes). Asked outside any driver request, with a short timeout (dockerd
// may be restarting), and never trusted for more than where to send announcements: what is
// announced is authenticated with the network's secret.
import { isIP } from 'node:net';
import { z } from 'zod';
import { dockerClient } from './client';

const Info = z.object({
  Swarm: z
    .object({
      NodeAddr: z.string().optional(),
      RemoteManagers: z.array(z.object({ Addr: z.string() })).nullish(),
    })
    .optional(),
});
const Nodes = z.array(z.object({ Status: z.object({ State: z.string().optional(), Addr: z.string().optional() }).optional() }));

/** "10.0.0.1:2377" or "[fd00::1]:2377" -> the address. */
function hostOf(addr: string): string | null {
  const m = /^\[?([^\]]+?)\]?(?::\d+)?$/.exec(addr);
  const h = m ? m[1] : addr;
  return isIP(h) !== 0 ? h : null;
}

/**
 * This node's and the other nodes' addresses (`manager`: the list is a manager's, every ready
 * node); null when dockerd does not answer.
 */
export async function swarmNodes(timeoutMs = 3000): Promise<{ self: string | null; nodes: string[]; manager: boolean } | null> {
  const docker = dockerClient(timeoutMs);
  let info: z.infer<typeof Info>;
  try {
    info = Info.parse(await docker.info());
  } catch {
    return null;
  }
  const self = info.Swarm?.NodeAddr ? hostOf(info.Swarm.NodeAddr) : null;
  const found = new Set<string>();
  let manager = false;
  for (const m of info.Swarm?.RemoteManagers ?? []) {
    const h = hostOf(m.Addr);
    if (h) found.add(h);
  }
  try {
    // Only managers answer; a worker's refusal is expected.
    const nodes = Nodes.parse(await docker.listNodes());
    manager = true;
    for (const n of nodes) {
      const h = n.Status?.Addr ? hostOf(n.Status.Addr) : null;
      if (h && n.Status?.State === 'ready') found.add(h);
    }
  } catch {
    // a worker
  }
  if (self) found.delete(self);
  return { self, nodes: [...found].sort(), manager };
}
