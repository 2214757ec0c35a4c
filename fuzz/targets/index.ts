// Every fuzz target, by the name `npm run fuzz -- NAME` takes.
import type { FuzzTarget, TargetSpec } from '../target';
import { deviceTarget } from './device';
import { labelStackTarget } from './labelStack';
import { pluginApiTarget } from './pluginApi';
import { routeSyntaxTarget } from './routeSyntax';
import { uapiTarget } from './uapi';

const spec = <T>(name: string, about: string, make: () => Promise<FuzzTarget<T>>): TargetSpec => ({
  name,
  about,
  make: make as () => Promise<FuzzTarget<unknown>>,
});

export const TARGETS: readonly TargetSpec[] = [
  spec('device', 'datagrams into a device with live sessions (noise/messages.ts layouts, receive.ts): no crash, no state change but drop counters', deviceTarget),
  spec('uapi', 'UAPI set transactions (ipc/uapi.ts parseSet) applied to a device: UapiError only, all or nothing, no key echoed', uapiTarget),
  spec('route-syntax', 'wgmpls ip arguments (lsr/*Syntax.ts): RouteError only, printed routes parse back the same', routeSyntaxTarget),
  spec('label-stack', 'the label-stack codec (mpls/wire.ts): bounds, TTL rule, checksums, round trips', labelStackTarget),
  spec('plugin-api', 'libnetwork requests (plugin/api schemas and option checks): DriverError naming the field, or the driver reached', pluginApiTarget),
];

export function targetNamed(name: string): TargetSpec {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
