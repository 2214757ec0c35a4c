// The lab-node image (lab/images/build.sh): its tools start and really work inside a container.
// Needs root and a Docker daemon that answers (scripts/docker-up.sh); builds the image with the
// script if it is missing. Containers run with --network none, carry a label naming this run,
// and are all removed at the end, whatever happened.

import { spawnSync } from 'node:child_process';
import { RunResult, run as runCommand } from '../../datapath/sys/exec';
import { join, resolve } from 'node:path';
import { describeWhere } from '../canRun';

const ROOT = resolve(__dirname, '..', '..');
const BUILD = join(ROOT, 'lab', 'images', 'build.sh');
const IMAGE = process.env.WGMPLS_NODE_IMAGE ?? 'wgmpls/node:latest';
const LABEL = `org.wgmpls.test=image-${process.pid}`;

function why(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  const info = spawnSync('docker', ['info'], { timeout: 20_000, stdio: 'ignore' });
  if (info.error !== undefined || info.status !== 0) {
    return 'needs a Docker daemon that answers `docker info` (run scripts/docker-up.sh)';
  }
  return null;
}
const skipReason = why();
const describeDocker = describeWhere(skipReason);

type Result = RunResult;

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Result> {
  return runCommand(cmd, args, { timeoutMs });
}

let seq = 0;
/** `docker run --rm --network none [opts] IMAGE cmd...`, labelled for cleanup. */
function inImage(cmd: string[], opts: string[] = [], timeoutMs = 30_000): Promise<Result> {
  const name = `wgmpls-imgtest-${process.pid}-${seq++}`;
  return run('docker', ['run', '--rm', '--network', 'none', '--label', LABEL, '--name', name, ...opts, IMAGE, ...cmd], timeoutMs);
}
const both = (r: Result): string => `${r.stdout}${r.stderr}`;

async function removeOurContainers(): Promise<void> {
  const ps = await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`]);
  const ids = ps.stdout.split('\n').filter((s) => s.length > 0);
  if (ids.length > 0) await run('docker', ['rm', '-f', ...ids]);
}

jest.setTimeout(60_000);

describeDocker(`lab node image ${IMAGE}`, () => {
  beforeAll(async () => {
    const have = await run('docker', ['image', 'inspect', IMAGE]);
    if (have.code !== 0) {
      const b = await run('bash', [BUILD, IMAGE], 120_000);
      if (b.code !== 0) throw new Error(`${BUILD} ${IMAGE} failed (${b.code}): ${both(b)}`);
    }
  }, 150_000);

  afterAll(async () => {
    await removeOurContainers();
  });

  test('ip -V is iproute2', async () => {
    const r = await inImage(['ip', '-V']);
    expect(r.code).toBe(0);
    expect(both(r)).toMatch(/iproute2-\d/);
  });

  test('ping -V is iputils', async () => {
    const r = await inImage(['ping', '-V']);
    expect(r.code).toBe(0);
    expect(both(r)).toMatch(/iputils/);
  });

  test('traceroute is 2.1 and supports -e and -I', async () => {
    const v = await inImage(['traceroute', '--version']);
    expect(v.code).toBe(0);
    expect(both(v)).toMatch(/version 2\.1/);
    const help = await inImage(['traceroute', '--help']);
    expect(both(help)).toMatch(/-e\s+--extensions/);
    // -e (ICMP extensions: MPLS labels) and -I (ICMP echo) accepted and working, on loopback.
    const t = await inImage(['traceroute', '-e', '-I', '-n', '-q', '1', '-m', '1', '127.0.0.1']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^ 1 {2}127\.0\.0\.1 /m);
  });

  test('tcpdump --version', async () => {
    const r = await inImage(['tcpdump', '--version']);
    expect(r.code).toBe(0);
    expect(both(r)).toMatch(/tcpdump version \d/);
    expect(both(r)).toMatch(/libpcap version \d/);
  });

  test('ping is answered and tcpdump (running as user tcpdump) captures it', async () => {
    const script = [
      'timeout 15 tcpdump -l -n -i lo -c 2 icmp & t=$!',
      'sleep 1',
      'ping -c 3 -i 0.3 -W 1 127.0.0.1 >/dev/null || echo PING-FAILED',
      'wait $t; echo tcpdump-exit=$?',
    ].join('; ');
    const r = await inImage(['sh', '-c', script]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/PING-FAILED/);
    expect(r.stdout).toMatch(/127\.0\.0\.1 > 127\.0\.0\.1: ICMP echo request/);
    expect(r.stdout).toMatch(/tcpdump-exit=0/);
    expect(r.stderr).toMatch(/2 packets captured/);
  });

  test('ip link add works with NET_ADMIN: veth always, dummy as far as the kernel has it', async () => {
    const veth = await inImage(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'], ['--cap-add', 'NET_ADMIN']);
    expect(both(veth)).toBe('');
    expect(veth.code).toBe(0);

    const dummy = await inImage(['ip', 'link', 'add', 'd0', 'type', 'dummy'], ['--cap-add', 'NET_ADMIN']);
    // The host kernel may be built without CONFIG_DUMMY (this project's machines are): ask it
    // the same question from a throwaway network namespace, and expect the same answer.
    const host = await run('unshare', ['-n', 'ip', 'link', 'add', 'd0', 'type', 'dummy']);
    if (host.code === 0) {
      expect(both(dummy)).toBe('');
      expect(dummy.code).toBe(0);
    } else {
      console.warn(`the host kernel cannot create a dummy link (${host.stderr.trim()}); checking the image's ip gets the same kernel answer`);
      expect(dummy.code).not.toBe(0);
      expect(dummy.stderr.trim()).toBe(host.stderr.trim());
    }
  });

  test('without NET_ADMIN the kernel refuses ip link add (the test above is not vacuous)', async () => {
    const r = await inImage(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  test('the default command keeps the container up, and docker stop is immediate', async () => {
    const name = `wgmpls-imgtest-${process.pid}-${seq++}`;
    const started = await run('docker', ['run', '-d', '--network', 'none', '--label', LABEL, '--name', name, IMAGE]);
    expect(started.code).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    const state = await run('docker', ['inspect', '-f', '{{.State.Running}}', name]);
    expect(state.stdout.trim()).toBe('true');
    const t0 = Date.now();
    const stop = await run('docker', ['stop', '-t', '10', name]);
    expect(stop.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000); // PID 1 handles SIGTERM: no 10 s kill timeout
    const exit = await run('docker', ['inspect', '-f', '{{.State.ExitCode}}', name]);
    expect(exit.stdout.trim()).toBe('0');
    await run('docker', ['rm', '-f', name]);
  });
});
