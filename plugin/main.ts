// `wgmpls plugin`: the Docker network driver in the foreground. Start-up order matters: state
// first, then the datapaths (re-adopted or restarted), and only then the socket - dockerd sends
// CreateEndpoint/Join for restarting containers as soon as it can reach us, and those need the
// networks loaded. On SIGTERM/SIGINT the plugin leaves and its datapaths keep forwarding.
import type { Server } from 'node:http';
import { basename } from 'node:path';
import { createLog, Log } from '../datapath/log';
import { driverRoutes } from './api/routes';
import { buildApp, listen, socketAnswers } from './api/server';
import { driverScope, exchangePort, isOurDriver, pluginPaths } from './config';
import { SwarmExchange } from './swarm/exchange';
import { removeIfExists } from './datapaths/process';
import { Supervisor } from './datapaths/supervisor';
import { DockerEvents } from './docker/events';
import { dockerView } from './docker/view';
import { pruneOrphans } from './driver/orphans';
import { LabAttacher } from './lab/attacher';
import { LabNetworkCollector } from './lab/collector';
import { Mutex } from './lock';
import { ContainerRoutes } from './routes/watcher';
import { StateStore } from './state/store';

const PRUNE_RETRY_MS = 30_000;

export interface RunningPlugin {
  server: Server;
  supervisor: Supervisor;
  stop(): Promise<void>;
}

export async function runPlugin(log: Log = createLog('wgmpls-plugin')): Promise<RunningPlugin> {
  const paths = pluginPaths();
  const scope = driverScope();
  // Before touching any datapath: a second instance would fight the first over them.
  if (await socketAnswers(paths.socket)) throw new Error(`another driver already answers on ${paths.socket}`);
  const store = StateStore.open(paths.stateDir);
  const mutex = new Mutex();
  const supervisor = new Supervisor(store, mutex, paths, log);
  log.info({ state: store.file, networks: store.networks().length, endpoints: store.endpoints().length }, 'state loaded');
  await supervisor.adoptAll();
  const events = new DockerEvents(log);
  // Swarm scope: other nodes' endpoints come and go through the exchange (plugin/swarm).
  const swarm = scope === 'global' ? new SwarmExchange(store, mutex, supervisor, log, { port: exchangePort(), self: process.env.WGMPLS_UNDERLAY || undefined }) : undefined;
  const ctx = { store, supervisor, log, events, swarm };
  const app = buildApp(driverRoutes(ctx), mutex, log);
  const server = await listen(app, paths.socket);
  supervisor.startMonitoring();
  swarm?.start();
  // Containers' wgmpls.routes labels, applied from Docker's events (subscribed before they flow).
  const routes = new ContainerRoutes(events, {
    stateDir: paths.stateDir,
    driver: basename(paths.socket, '.sock'),
    ours: (ids) => ids.some((id) => store.endpoint(id) !== undefined),
    endpointRoutes: (id) => store.endpoint(id)?.routes,
    endpointLsr: (id) => {
      const ep = store.endpoint(id);
      return ep ? store.network(ep.networkId)?.lsr : undefined;
    },
    log,
  });
  routes.start();
  // containerlab labs: nodes started without their stage (reconcile), and the networks of
  // destroyed labs (containerlab cannot tell us).
  const driverName = basename(paths.socket, '.sock');
  const labNodes = new LabAttacher(events, driverName, log);
  const labNets = new LabNetworkCollector(events, (d) => isOurDriver(d, driverName), log);
  labNodes.start();
  labNets.start();
  events.start();
  log.info({ socket: paths.socket, scope }, 'wgmpls network driver listening');

  // Once dockerd answers (it may start after us), forget what it forgot while we were away.
  let pruneTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  const prune = (): void => {
    pruneTimer = null;
    pruneOrphans(ctx, mutex, () => dockerView(basename(paths.socket, '.sock'))).then(
      ({ answered, recheckInMs }) => {
        if (stopping) return;
        if (!answered) pruneTimer = setTimeout(prune, PRUNE_RETRY_MS);
        // Entries too young to judge (e.g. half made when the plugin was killed): once they are old.
        else if (recheckInMs !== null) pruneTimer = setTimeout(prune, recheckInMs + 1000);
      },
      (err: Error) => log.error({ err: err.message }, 'cannot compare the state with dockerd'),
    );
  };
  prune();
  return {
    server,
    supervisor,
    async stop() {
      stopping = true;
      if (pruneTimer) clearTimeout(pruneTimer);
      supervisor.stopMonitoring();
      await swarm?.stop();
      routes.stop();
      labNodes.stop();
      labNets.stop();
      events.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // dockerd keeps its connections open between calls; they must not hold the exit up.
      server.closeAllConnections();
      await closed;
      removeIfExists(paths.socket);
      // Finish what is under way (a datapath being started) before the process goes.
      await mutex.run(async () => undefined);
      supervisor.detach();
      log.info({}, 'wgmpls network driver stopped; datapaths keep running');
    },
  };
}
