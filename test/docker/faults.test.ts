// The plugin under load and faults, against the host's real dockerd (needs root and a dockerd
// that answers; test/canRun.ts): 30 `docker run` at once on one network; the plugin killed
// with SIGKILL in the middle of CreateEndpoint and of Join, then started again; a state
// directory that is read-only, then full. Everything created is named wgmt-lf-*; the
// 10.67.x addresses exist only inside the test containers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, waitFor } from '../net/harness';
import { Plugin, docker, dockerOk, hostedDatapaths as datapaths, mustPing, whyNotRunnable } from './helpers';
import { describeWhere } from '../canRun';
import { workerDirFor } from '../../plugin/config';
import { workersIn } from '../../plugin/datapaths/process';

jest.setTimeout(300_000);
const maybe = describeWhere(whyNotRunnable());

const NET = 'wgmt-lf-net';
const PARALLEL = 30;
const many = Array.from({ length: PARALLEL }, (_, i) => `wgmt-lf-c${i}`);
const OTHERS = ['wgmt-lf-x', 'wgmt-lf-k1', 'wgmt-lf-k2', 'wgmt-lf-s1', 'wgmt-lf-s2', 'wgmt-lf-s3', 'wgmt-lf-s4'];
const NETS = [NET, 'wgmt-lf-kill', 'wgmt-lf-state', 'wgmt-lf-state2'];

const hostLink = (ifname: string): boolean => existsSync(`/sys/class/net/${ifname}`);

async function removeAll(): Promise<void> {
  await Promise.all([...many, ...OTHERS].map((c) => docker('rm', '-f', c)));
  for (const n of NETS) await docker('network', 'rm', n);
}

/** The endpoint ids dockerd has on a network. */
async function dockerEndpoints(net: string): Promise<string[]> {
  const out = await dockerOk('network', 'inspect', net, '--format', '{{range $id, $c := .Containers}}{{$c.EndpointID}} {{end}}');
  return out.trim().split(/\s+/).filter((x) => x !== '');
}

maybe('the plugin under load and faults', () => {
  const plugin = new Plugin();
  let image = '';

  beforeAll(async () => {
    image = await plugin.setUp(removeAll, true);
  }, 180_000);

  afterAll(() => plugin.tearDown(removeAll), 180_000);

  test(`${PARALLEL} docker run at once on one network: every endpoint made, no port or key shared, a full mesh`, async () => {
    await dockerOk('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.mpls-peers=any', '--subnet', '10.67.0.0/24', NET);
    const t0 = Date.now();
    const runs = await Promise.all(many.map((c) => docker('run', '-d', '--name', c, '--network', NET, image)));
    const seconds = (Date.now() - t0) / 1000;
    console.log(`${PARALLEL} parallel docker run on one wgmpls network: ${seconds.toFixed(1)} s`);
    for (const [i, r] of runs.entries()) expect({ container: many[i], code: r.code, stderr: r.stderr }).toEqual({ container: many[i], code: 0, stderr: '' });

    const net = (await dockerOk('network', 'inspect', NET, '--format', '{{.Id}}')).trim();
    const ours = Object.values(plugin.state().endpoints).filter((e) => e.networkId === net);
    const theirs = await dockerEndpoints(NET);
    expect(theirs).toHaveLength(PARALLEL);
    expect(ours.map((e) => e.id).sort()).toEqual([...theirs].sort()); // none lost, none extra
    expect(new Set(ours.map((e) => e.port)).size).toBe(PARALLEL);
    expect(new Set(ours.map((e) => e.publicKey)).size).toBe(PARALLEL);
    expect(new Set(ours.map((e) => e.privateKey)).size).toBe(PARALLEL);
    expect(new Set(ours.map((e) => e.ifname)).size).toBe(PARALLEL);
    const running = await datapaths(plugin);
    for (const e of ours) {
      expect(running.get(e.ifname)).toBe(e.datapath?.pid);
      const peers = (await run('wg', ['show', e.ifname, 'peers'])).stdout.trim().split('\n');
      expect(peers).toHaveLength(PARALLEL - 1);
    }
    await mustPing(many[0], (await dockerOk('inspect', many[PARALLEL - 1], '--format', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`)).trim());
    await mustPing(many[PARALLEL - 1], (await dockerOk('inspect', many[7], '--format', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`)).trim());

    const t1 = Date.now();
    await Promise.all(many.map((c) => dockerOk('rm', '-f', c)));
    console.log(`${PARALLEL} parallel docker rm -f: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    await dockerOk('network', 'rm', NET);
    expect(Object.values(plugin.state().endpoints)).toEqual([]);
    expect(plugin.state().networks).toEqual({});
    for (const e of ours) {
      expect((await datapaths(plugin)).has(e.ifname)).toBe(false);
      expect(hostLink(e.ifname)).toBe(false);
    }
  });

  describe('kill -9 of the plugin in the middle of a call, then a restart', () => {
    const KNET = 'wgmt-lf-kill';
    let ip = '';

    beforeAll(async () => {
      await dockerOk('network', 'create', '-d', 'wgmpls', '--subnet', '10.67.1.0/24', KNET);
      await dockerOk('run', '-d', '--name', 'wgmt-lf-x', '--network', KNET, '--ip', '10.67.1.2', image);
      ip = '10.67.1.2';
    });

    /**
     * Starts `docker run` of `name`, kills the plugin when `when` says, starts it again, and
     * returns how docker run ended. Either way, the network must end with exactly dockerd's
     * endpoints, each with its datapath and nothing else (no half-made endpoint).
     */
    async function killDuring(name: string, when: () => boolean): Promise<{ code: number; stderr: string }> {
      const started = docker('run', '-d', '--name', name, '--network', KNET, image);
      await waitFor('the moment to kill the plugin', when, 60_000);
      plugin.proc?.kill('SIGKILL');
      await plugin.stop(); // waits for the exit
      await plugin.start();
      const r = await started;
      const net = (await dockerOk('network', 'inspect', KNET, '--format', '{{.Id}}')).trim();
      // An endpoint half made at the kill is young: the plugin looks again once it is a minute old.
      await waitFor(
        "the plugin's endpoints to be dockerd's",
        async () => {
          const ours = Object.values(plugin.state().endpoints).filter((e) => e.networkId === net).map((e) => e.id).sort();
          return JSON.stringify(ours) === JSON.stringify((await dockerEndpoints(KNET)).sort());
        },
        90_000,
      );
      const ours = Object.values(plugin.state().endpoints).filter((e) => e.networkId === net);
      const running = await datapaths(plugin);
      for (const e of ours) expect(running.get(e.ifname)).toBe(e.datapath?.pid);
      // Every datapath this plugin ever started (its logs name them) is in the state or gone, TUN too.
      const known = new Set(Object.values(plugin.state().endpoints).map((e) => e.ifname));
      const made = new Set(plugin.logs.match(/wgm[0-9a-f]{12}/g) ?? []);
      for (const ifname of made) {
        if (known.has(ifname)) continue;
        expect({ ifname, running: running.has(ifname), tun: hostLink(ifname) }).toEqual({ ifname, running: false, tun: false });
      }
      return { code: r.code, stderr: r.stderr };
    }

    async function worksOrFailedCleanly(name: string, r: { code: number; stderr: string }): Promise<void> {
      if (r.code === 0) {
        const addr = (await dockerOk('inspect', name, '--format', `{{(index .NetworkSettings.Networks "${KNET}").IPAddress}}`)).trim();
        await mustPing(name, ip);
        await mustPing('wgmt-lf-x', addr);
        console.log(`${name}: docker run succeeded across the kill; the container works`);
      } else {
        expect(r.stderr).toMatch(/Error response from daemon: .*wgmpls/);
        expect(r.stderr).not.toMatch(/internal error|bad request/);
        const state = (await dockerOk('inspect', name, '--format', '{{.State.Status}}')).trim();
        expect(state).not.toBe('running');
        console.log(`${name}: docker run failed cleanly across the kill: ${r.stderr.trim().split('\n')[0]}`);
      }
      // The survivor still talks to whoever is left.
      await mustPing('wgmt-lf-x', ip);
    }

    test('during CreateEndpoint (the endpoint just recorded, no datapath yet)', async () => {
      const mark = plugin.logs.length;
      const r = await killDuring('wgmt-lf-k1', () => plugin.logs.slice(mark).includes('endpoint created'));
      await worksOrFailedCleanly('wgmt-lf-k1', r);
    });

    test('during Join (its datapath just started in a worker, the peers not told yet)', async () => {
      const mark = plugin.logs.length;
      const r = await killDuring('wgmt-lf-k2', () => /"restart":false[^\n]*"datapath up"/.test(plugin.logs.slice(mark)));
      await worksOrFailedCleanly('wgmt-lf-k2', r);
    });
  });

  describe('a state directory that cannot be written', () => {
    const SNET = 'wgmt-lf-state';
    let mnt = '';

    beforeAll(async () => {
      // The plugin's state directory becomes a small tmpfs of its own (the plugin restarted onto it).
      await plugin.stop();
      mnt = join(plugin.dir, 'state');
      const saved = existsSync(join(mnt, 'state.json')) ? readFileSync(join(mnt, 'state.json')) : null;
      mkdirSync(mnt, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mnt]);
      if (saved) writeFileSync(join(mnt, 'state.json'), saved, { mode: 0o600 });
      await plugin.start();
      await dockerOk('network', 'create', '-d', 'wgmpls', '--subnet', '10.67.2.0/24', SNET);
      await dockerOk('run', '-d', '--name', 'wgmt-lf-s1', '--network', SNET, '--ip', '10.67.2.2', image);
    });

    afterAll(async () => {
      await run('mount', ['-o', 'remount,rw', mnt]);
      rmSync(join(mnt, 'fill'), { force: true });
      for (const c of ['wgmt-lf-s1', 'wgmt-lf-s2', 'wgmt-lf-s3', 'wgmt-lf-s4']) await docker('rm', '-f', c);
      await docker('network', 'rm', SNET);
      await docker('network', 'rm', 'wgmt-lf-state2');
      // The state goes back to the plain directory, where the other tests' cleanup reads it.
      const saved = readFileSync(join(mnt, 'state.json'));
      await plugin.stop();
      await run('umount', [mnt]);
      writeFileSync(join(mnt, 'state.json'), saved, { mode: 0o600 });
      await plugin.start();
    });

    const stateFile = (): Buffer => readFileSync(join(mnt, 'state.json'));

    async function refusedCleanly(cause: RegExp): Promise<void> {
      const good = stateFile();
      const pids = await datapaths(plugin);
      const net = await docker('network', 'create', '-d', 'wgmpls', '--subnet', '10.67.3.0/24', 'wgmt-lf-state2');
      expect(net.code).not.toBe(0);
      expect(net.stderr).toMatch(/wgmpls cannot save its state in \S+ \(/);
      expect(net.stderr).toMatch(cause);
      expect(net.stderr).toMatch(/nothing was changed, the state on disk is the last good one/);
      const r = await docker('run', '-d', '--name', 'wgmt-lf-s2', '--network', SNET, image);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/wgmpls cannot save its state/);
      expect(r.stderr).toMatch(cause);
      expect(stateFile().equals(good)).toBe(true);
      expect([...(await datapaths(plugin)).keys()].sort()).toEqual([...pids.keys()].sort()); // no datapath started
      expect(plugin.proc?.exitCode).toBeNull(); // the plugin lives on
      await dockerOk('rm', '-f', 'wgmt-lf-s2');
      await mustPing('wgmt-lf-s1', '10.67.2.2');
    }

    /** Writable again: a new container works, and the state holds it and nothing of the refused calls. */
    async function recovers(name: string, addr: string): Promise<void> {
      await dockerOk('run', '-d', '--name', name, '--network', SNET, '--ip', addr, image);
      await mustPing(name, '10.67.2.2');
      const state = plugin.state();
      const net = (await dockerOk('network', 'inspect', SNET, '--format', '{{.Id}}')).trim();
      // No ghost of the refused CreateNetwork: every network the state holds is one dockerd has.
      for (const id of Object.keys(state.networks)) expect((await docker('network', 'inspect', id)).code).toBe(0);
      const mine = Object.values(state.endpoints).filter((e) => e.networkId === net).map((e) => e.id).sort();
      expect(mine).toEqual((await dockerEndpoints(SNET)).sort());
    }

    test('read-only: the calls fail saying so, the state file stays the last good one', async () => {
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      await refusedCleanly(/read-only/);
      execFileSync('mount', ['-o', 'remount,rw', mnt]);
      await recovers('wgmt-lf-s3', '10.67.2.3');
    });

    test('full: the calls fail saying so, the state file stays the last good one', async () => {
      // Fill the tmpfs up to the last block (dd stops with ENOSPC).
      await run('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=4k']);
      await refusedCleanly(/no space left on the device/);
      rmSync(join(mnt, 'fill'));
      await recovers('wgmt-lf-s4', '10.67.2.4');
    });
  });

  test('after all of it, removing the containers and networks leaves no datapath worker running', async () => {
    await removeAll();
    const dir = workerDirFor(join(plugin.dir, 'state'));
    // Not even one started by a plugin killed before it could record it (stopped at the restart).
    await waitFor('the workers to go', () => workersIn(dir).length === 0, 15_000).catch(() => undefined);
    expect(workersIn(dir).map((w) => w.control)).toEqual([]);
    expect(plugin.state().workers).toBeUndefined();
  });
});
