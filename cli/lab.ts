// `wgmpls lab ...`: containerlab topologies whose links are wgmpls networks (lab/README.md).
// `sync` is what a topology's stage runs on the host; `check` reads a topology file without
// deploying it; `sweep` removes what a lab left. Modules loaded lazily, as for `plugin`.
import type { Command } from 'commander';
import type { CheckedLab } from '../plugin/lab/topology';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The process that ran us, if it is containerlab (a stage's `target: host` exec). */
function containerlabParent(): number | null {
  try {
    return readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim() === 'containerlab' ? process.ppid : null;
  } catch {
    return null;
  }
}

/**
 * Whether containerlab process `pid` is deploying the topology `file`: its `-t`/`--topo` argument
 * (relative to its working directory), or, without one, a file in its working directory (it
 * then picks the *.clab.yml there).
 */
export function deploysTopology(pid: number, file: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    let topo: string | undefined;
    argv.forEach((a, i) => {
      if (a === '-t' || a === '--topo') topo = argv[i + 1];
      else if (a.startsWith('--topo=') || a.startsWith('-t=')) topo = a.slice(a.indexOf('=') + 1);
    });
    const target = realpathSync(file);
    if (topo === undefined) return dirname(target) === realpathSync(cwd);
    return realpathSync(resolve(cwd, topo)) === target;
  } catch {
    return false;
  }
}

/** Runs `fn` on the checked topology; a bad topology is reported as `wgmpls lab <cmd>: ...`. */
async function withCheckedLab(cmd: string, file: string, fn: (checked: CheckedLab) => void | Promise<void>): Promise<void> {
  const { readTopology, checkTopology } = await import('../plugin/lab/topology');
  const { LabError } = await import('../plugin/lab/links');
  let checked: CheckedLab;
  try {
    checked = checkTopology(readTopology(file));
  } catch (err) {
    if (!(err instanceof LabError)) throw err;
    process.stderr.write(`wgmpls lab ${cmd}: lab ${file}: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  await fn(checked);
}

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('containerlab topologies whose links are wgmpls networks (lab/README.md)');

  lab
    .command('sync')
    .description("put every running containerlab node on the wgmpls networks of its wgmpls.links label (run by the topology's stage, on the host)")
    .action(async () => {
      const { syncLabs, withLock } = await import('../plugin/lab/sync');
      const r = await withLock(() => syncLabs());
      for (const n of r.created) process.stdout.write(`created network ${n}\n`);
      for (const c of r.connected) process.stdout.write(`connected ${c}\n`);
      if (r.failures.length === 0) return;
      process.exitCode = 1;
      for (const f of r.failures) process.stderr.write(`wgmpls lab sync: ${f.message}\n`);
      const clab = containerlabParent();
      if (clab === null) return;
      // Only the lab this containerlab deploys is stopped: another lab's trouble (a running lab
      // whose file was edited since, say) is reported and left alone.
      const mine = r.failures.find((f) => f.file !== undefined && deploysTopology(clab, f.file));
      if (!mine) return;
      const msg = `wgmpls lab sync: ${mine.message}`;
      // containerlab only logs a failing stage command and deploys on. Failing the deploy
      // takes stopping it: say why on its own stderr (it may exit before logging ours), have a
      // detached sweeper remove what it made once it is gone, then SIGTERM it (exit code 1).
      try {
        writeFileSync(`/proc/${clab}/fd/2`, `\nERROR ${msg}\nERROR wgmpls: stopping the deploy; the lab's containers and wgmpls networks are removed\n`);
      } catch {
        // its stderr may be closed: ours is still logged
      }
      const topo = mine.file !== undefined ? ['--topology', mine.file] : [];
      const sweeper = spawn(process.execPath, [process.argv[1], 'lab', 'sweep', mine.lab, '--after-pid', String(clab), ...topo], { detached: true, stdio: 'ignore' });
      sweeper.unref();
      process.kill(clab, 'SIGTERM');
    });

  lab
    .command('check')
    .description("check a topology file's wgmpls links and routes without deploying it; prints the networks it would make")
    .argument('<topology>', 'the .clab.yml file')
    .action((file: string) =>
      withCheckedLab('check', file, (checked) => {
        for (const n of checked.networks) {
          const ends = n.ends.map((e) => `${e.node}(wgm${e.end.n - 1})`).join(' ');
          process.stdout.write(`${n.dockerName} ${[n.v4?.subnet, n.v6?.subnet].filter(Boolean).join(' ')} ${ends}\n`);
        }
      }),
    );

  lab
    .command('graph')
    .description('the lab with its wgmpls links as a Mermaid flowchart (containerlab graph only draws its own links)')
    .argument('<topology>', 'the .clab.yml file')
    .option('--direction <dir>', 'Mermaid direction: TD, LR, ...', 'TD')
    .action((file: string, o: { direction: string }) =>
      withCheckedLab('graph', file, async (checked) => {
        const { mermaid } = await import('../plugin/lab/graph');
        process.stdout.write(mermaid(checked, o.direction));
      }),
    );

  lab
    .command('ring')
    .description('print a containerlab topology of <n> routers in a ring, each linked to the next and (from 5 nodes on) the one after: 2n wgmpls links (lab/ring.clab.yml is the one of 50)')
    .argument('<n>', 'how many nodes')
    .option('--name <lab>', 'the lab name', 'ring')
    .action(async (n: string, o: { name: string }) => {
      const { RING_MAX, RING_MIN, ringTopology } = await import('../plugin/lab/ring');
      const count = Number(n);
      if (!Number.isInteger(count) || count < RING_MIN || count > RING_MAX) {
        process.stderr.write(`wgmpls lab ring: <n> must be an integer from ${RING_MIN} to ${RING_MAX}, got "${n}"\n`);
        process.exitCode = 1;
        return;
      }
      if (!/^[A-Za-z0-9_-]{1,40}$/.test(o.name)) {
        process.stderr.write(`wgmpls lab ring: --name must be 1-40 letters, digits, _ or -, got "${o.name}"\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(ringTopology(count, o.name));
    });

  lab
    .command('sweep')
    .description("remove a lab's containers and the wgmpls networks made for it (what a failed or interrupted deploy leaves)")
    .argument('<lab>', 'the lab name (the topology\'s "name")')
    .option('--after-pid <pid>', 'first wait for this process to exit')
    .option('--topology <file>', 'first `containerlab destroy --cleanup -t FILE` (its own leftovers: management network, lab directory)')
    .action(async (name: string, o: { afterPid?: string; topology?: string }) => {
      const { sweepLab } = await import('../plugin/lab/sync');
      if (o.afterPid !== undefined) {
        const deadline = Date.now() + 60_000;
        while (existsSync(`/proc/${o.afterPid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      }
      if (o.topology !== undefined) {
        await new Promise<void>((resolve) => {
          const d = spawn('containerlab', ['destroy', '--cleanup', '-t', o.topology as string], { stdio: 'ignore', timeout: 120_000 });
          d.on('exit', () => resolve());
          d.on('error', () => resolve()); // no containerlab on PATH: the sweep below still runs
        });
      }
      // Twice: a container whose creation was under way when containerlab stopped appears late.
      const removed = [...(await sweepLab(name))];
      if (o.afterPid !== undefined) {
        await new Promise((r) => setTimeout(r, 1500));
        removed.push(...(await sweepLab(name)));
      }
      for (const r of removed) process.stdout.write(`removed ${r}\n`);
    });
}
