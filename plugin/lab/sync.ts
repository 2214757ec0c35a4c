// `wgmpls lab sync`: what a containerlab topology's stage runs on the host (`target: host`) once
// a node's container is up. It brings every running container of every lab with wgmpls links
// onto its wgmpls networks: creates the lab's networks that are missing (named
// wgmpls-<lab>-<network>, labelled with the lab) and connects each container in the order of its
// `wgmpls.links`, so Docker names the TUNs wgm0, wgm1, ... as the routes expect. Idempotent:
// every node runs it, each run finishes what is ready; runs are serialized by a lock file.
// The plugin applies the `wgmpls.routes` labels itself on connect.
//
// A lab whose topology is wrong is checked from its file (all nodes at once) by the first run,
// and torn down: see `failLab`.
import type Docker from 'dockerode';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nsidOf } from '../../datapath/lsr/store';
import { DRIVER_NAME } from '../config';
import { dockerClient } from '../docker/client';
import { CLAB_LAB_LABEL, CLAB_NODE_LABEL, LINKS_LABEL, LabError, LabNetwork, NET_LAB_LABEL, NET_NAME_LABEL, canonical } from './links';
import { CheckedLab, checkTopology, readTopology } from './topology';

/** containerlab's label holding the topology file's absolute path. */
const CLAB_TOPO_LABEL = 'clab-topo-file';
export const LOCK_FILE = '/run/wgmpls/lab.lock';
/**
 * Per lab, the namespace cookie of each container `sync` saw (one file per container): the
 * label tables (/run/wgmpls/lsr/<cookie>) that must go with the lab. Nothing else could find
 * them once the containers are gone, and the datapaths' own clean-up only runs when another
 * datapath starts.
 */
export const LAB_RECORDS = process.env.WGMPLS_LAB_DIR ?? '/run/wgmpls/lab';

export interface SyncReport {
  created: string[];
  connected: string[];
  /** Labs that could not be brought up (each is independent: one bad lab does not stop another). */
  failures: LabFailure[];
}

interface LabContainer {
  id: string;
  name: string;
  node: string;
  running: boolean;
  labels: Record<string, string>;
}

async function labContainers(docker: Docker, lab?: string): Promise<LabContainer[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [lab === undefined ? CLAB_LAB_LABEL : `${CLAB_LAB_LABEL}=${lab}`] } });
  return list.map((c) => ({
    id: c.Id,
    name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
    node: c.Labels[CLAB_NODE_LABEL] ?? '',
    running: c.State === 'running',
    labels: c.Labels,
  }));
}

/** The lab checked from its topology file; from its containers' labels if the file is gone. */
function topologyFile(containers: readonly LabContainer[]): string | undefined {
  return containers.map((c) => c.labels[CLAB_TOPO_LABEL]).find((f) => f !== undefined && existsSync(f));
}

function checkLab(lab: string, containers: readonly LabContainer[]): CheckedLab {
  const file = topologyFile(containers);
  const topo = file !== undefined ? readTopology(file) : { lab, nodes: containers.map((c) => ({ name: c.node, labels: c.labels })) };
  return checkTopology({ ...topo, lab });
}

async function ensureNetwork(docker: Docker, lab: string, net: LabNetwork, driver: string, existing: Map<string, Record<string, string> | undefined>): Promise<boolean> {
  if (existing.has(net.dockerName)) {
    if (existing.get(net.dockerName)?.[NET_LAB_LABEL] !== lab) throw new LabError(`network ${net.name}: a Docker network named ${net.dockerName} exists and is not lab ${lab}'s; remove or rename it`);
    return false;
  }
  const config = [net.v4, net.v6].filter((c): c is { subnet: string; gateway: string } => c !== undefined).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway }));
  await docker.createNetwork({
    Name: net.dockerName,
    Driver: driver,
    CheckDuplicate: true,
    EnableIPv6: net.v6 !== undefined,
    IPAM: { Driver: 'default', Config: config },
    Labels: { [NET_LAB_LABEL]: lab, [NET_NAME_LABEL]: net.name },
  });
  return true;
}

/** The driver of the networks `sync` makes: wgmpls, or WGMPLS_LAB_DRIVER (another instance's name). */
export function labDriver(): string {
  return process.env.WGMPLS_LAB_DRIVER ?? DRIVER_NAME;
}

/** Brings every running lab container onto its networks; a lab that cannot be is in `failures`. */
export async function syncLabs(opts: { driver?: string; docker?: Docker } = {}): Promise<SyncReport> {
  const docker = opts.docker ?? dockerClient(60_000);
  const driver = opts.driver ?? labDriver();
  const report: SyncReport = { created: [], connected: [], failures: [] };
  const labs = new Map<string, LabContainer[]>();
  for (const c of await labContainers(docker)) {
    if (c.labels[LINKS_LABEL] === undefined) continue;
    const lab = c.labels[CLAB_LAB_LABEL];
    labs.set(lab, [...(labs.get(lab) ?? []), c]);
  }
  for (const [lab, containers] of labs) {
    try {
      await syncLab(docker, lab, containers, driver, report);
    } catch (err) {
      if (!(err instanceof LabFailure)) throw err;
      report.failures.push(err);
    }
  }
  return report;
}

async function syncLab(docker: Docker, lab: string, containers: readonly LabContainer[], driver: string, report: SyncReport): Promise<void> {
  let checked: CheckedLab;
  try {
    checked = checkLab(lab, containers);
  } catch (err) {
    if (err instanceof LabError) throw new LabFailure(lab, err.message, topologyFile(containers));
    throw err;
  }
  const nets = await docker.listNetworks({ filters: { name: checked.networks.map((n) => n.dockerName) } });
  const existing = new Map(nets.map((n) => [n.Name, n.Labels]));
  for (const c of containers) {
    if (!c.running) continue;
    const node = checked.nodes.get(c.node);
    if (!node) continue;
    const info = await docker.getContainer(c.id).inspect();
    recordNamespace(lab, c.id, info.State.Pid);
    const attached = new Set(Object.keys(info.NetworkSettings.Networks ?? {}));
    for (const end of node.links) {
      const net = checked.networks.find((n) => n.name === end.network);
      if (!net || attached.has(net.dockerName)) continue;
      try {
        if (await ensureNetwork(docker, lab, net, driver, existing)) {
          report.created.push(net.dockerName);
          existing.set(net.dockerName, { [NET_LAB_LABEL]: lab });
        }
        await docker
          .getNetwork(net.dockerName)
          .connect({
            Container: c.id,
            EndpointConfig: { IPAMConfig: { IPv4Address: end.v4 ? canonical(end.v4) : undefined, IPv6Address: end.v6 ? canonical(end.v6) : undefined } },
          })
          .catch((err: unknown) => {
            // Connected since we looked (a run that was killed after Docker had done it): fine.
            if (!/already exists in network/.test(dockerMessage(err))) throw err;
          });
      } catch (err) {
        let msg = err instanceof LabError ? err.message : dockerMessage(err);
        if (/overlaps/.test(msg)) msg += await holdersOf(docker, net);
        throw new LabFailure(lab, `node ${c.node}: network ${end.network} (${LINKS_LABEL} entry ${end.n}): ${msg}`, topologyFile(containers));
      }
      report.connected.push(`${c.node}:${net.dockerName}`);
    }
  }
}

function recordNamespace(lab: string, containerId: string, pid: number): void {
  if (!(pid > 0)) return;
  try {
    const dir = join(LAB_RECORDS, lab);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, containerId), nsidOf(`/proc/${pid}/ns/net`));
  } catch {
    // the container stopped meanwhile: it has no namespace left to have a table
  }
}

/** A lab that cannot be brought up; `message` names the node and the problem. */
export class LabFailure extends Error {
  constructor(
    readonly lab: string,
    message: string,
    /** The lab's topology file, for `containerlab destroy`. */
    readonly file?: string,
  ) {
    super(`lab ${lab}: ${message}`);
  }
}

/** Which networks hold a subnet Docker refused as overlapping (two labs with the same addressing). */
async function holdersOf(docker: Docker, net: LabNetwork): Promise<string> {
  const want = new Set([net.v4?.subnet, net.v6?.subnet].filter((x): x is string => x !== undefined));
  const holders: string[] = [];
  for (const n of await docker.listNetworks()) {
    const subnets = (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '');
    const hit = subnets.filter((x) => want.has(x));
    if (hit.length) holders.push(`${n.Name} (${hit.join(' ')})`);
  }
  return holders.length ? `; already used by ${holders.join(', ')}: labs deployed together need different subnets` : '';
}

function dockerMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/** Removes a lab's containers and the wgmpls networks `sync` made for it. */
export async function sweepLab(lab: string, docker: Docker = dockerClient(60_000)): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await labContainers(docker, lab)) {
    await docker
      .getContainer(c.id)
      .remove({ force: true })
      .then(() => removed.push(c.name))
      .catch(() => undefined);
  }
  for (const n of await docker.listNetworks({ filters: { label: [`${NET_LAB_LABEL}=${lab}`] } })) {
    await docker
      .getNetwork(n.Id)
      .remove()
      .then(() => removed.push(n.Name))
      .catch(() => undefined);
  }
  return removed;
}

/**
 * Serializes runs: every node of a lab runs sync at about the same time (and the plugin too).
 * The lock file appears with its holder's pid already in it (written aside, then hard-linked:
 * atomic), so a waiter never reads a half-made lock; one whose holder died (containerlab kills
 * a stage command it gives up on) is taken over.
 */
export async function withLock<T>(fn: () => Promise<T>, file = LOCK_FILE, timeoutMs = 120_000): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  const mine = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(mine, String(process.pid));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let pid = 0;
        try {
          pid = Number(readFileSync(file, 'utf8'));
        } catch {
          continue; // released meanwhile
        }
        if (!existsSync(`/proc/${pid}`)) rmSync(file, { force: true });
        else if (Date.now() > deadline) throw new Error(`${file} held by pid ${pid} for more than ${timeoutMs / 1000} s`);
        else await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
