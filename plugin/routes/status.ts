// The outcome of each container's `wgmpls.routes`, kept beside the plugin's state so that
// `wgmpls show` (another process, maybe while the plugin is down) can tell why a container has
// no routes. A file of its own: it holds nothing the driver needs to rebuild, and a lost or
// corrupt one only loses messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../datapath/lsr/store';

export const ROUTES_STATUS_FILE = 'routes.json';

const RouteStatusSchema = z.object({
  containerId: z.string(),
  name: z.string(),
  /** Lines applied; 0 when refused. */
  routes: z.number().int(),
  /** Why nothing was installed; absent when the label was applied. */
  error: z.string().optional(),
  /** Who switches the container's labels after applying: the kernel or the datapaths. */
  lsr: z.enum(['kernel', 'userspace']).optional(),
  at: z.string(),
});
export type RouteStatus = z.infer<typeof RouteStatusSchema>;

const FileSchema = z.object({ version: z.literal(1), containers: z.record(RouteStatusSchema) });

function file(stateDir: string): string {
  return join(stateDir, ROUTES_STATUS_FILE);
}

/** Every container's last outcome, by container id; empty when there is no (readable) file. */
export function readRouteStatus(stateDir: string): Map<string, RouteStatus> {
  try {
    const parsed = FileSchema.parse(JSON.parse(readFileSync(file(stateDir), 'utf8')));
    return new Map(Object.entries(parsed.containers));
  } catch {
    return new Map();
  }
}

function write(stateDir: string, all: ReadonlyMap<string, RouteStatus>): void {
  writeFileAtomic(file(stateDir), JSON.stringify({ version: 1, containers: Object.fromEntries(all) }, null, 1) + '\n');
}

export function recordRouteStatus(stateDir: string, s: RouteStatus): void {
  const all = readRouteStatus(stateDir);
  all.set(s.containerId, s);
  write(stateDir, all);
}

/** Forgets the containers `keep` says no to (removed ones). */
export function pruneRouteStatus(stateDir: string, keep: (containerId: string) => boolean): void {
  const all = readRouteStatus(stateDir);
  let changed = false;
  for (const id of all.keys()) {
    if (keep(id)) continue;
    all.delete(id);
    changed = true;
  }
  if (changed) write(stateDir, all);
}
