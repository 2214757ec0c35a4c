// `wgmpls worker`: one process hosting many endpoints for the plugin (docs/design.md section 2),
// controlled over a unix socket (control.ts). It warms the JIT up once, right after it starts
// listening (or, with deferWarmUp, when asked: a worker started to put crashed endpoints back
// serves them first), and on SIGTERM stops every endpoint it hosts.
import type { Timing } from '../device/constants';
import type { Log } from '../log';
import { ControlServer } from './control';
import { WorkerHost } from './host';

export interface WorkerOptions {
  control: string;
  uapiDir?: string;
  warmUp: { mtu: number; listenAddress: string; mplsPeers: 'seed' | 'any' };
  /** Wait for a warm-up request (or the first add that asks for one) instead of warming up at once. */
  deferWarmUp?: boolean;
  testTiming?: Timing;
  log: Log;
}

export interface RunningWorker {
  host: WorkerHost;
  stop(): Promise<void>;
}

export async function runWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const host = new WorkerHost({ uapiDir: opts.uapiDir, warmUp: opts.warmUp, testTiming: opts.testTiming, log: opts.log });
  const control = await ControlServer.listen(opts.control, host, opts.log);
  opts.log.info({ control: opts.control, pid: process.pid, deferWarmUp: opts.deferWarmUp === true }, 'worker listening');
  if (!opts.deferWarmUp) setImmediate(() => void host.warmUp());
  return {
    host,
    async stop() {
      await control.close();
      await host.stopAll();
      opts.log.info({ control: opts.control }, 'worker stopped');
    },
  };
}
