// `npm run fuzz [-- [--runs N] [--seed S] [TARGET...]]`: each target (targets/index.ts) for N
// inputs (default 1,000,000) in a worker thread of its own, one after the other. A target
// whose input counter stands still for HANG_MS is hung: the worker is stopped and the run
// fails, naming the seed and how many inputs had started (the same seed replays the same
// inputs). Prints inputs, time and rate per target, and what the inputs reached.
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { TARGETS, targetNamed } from './targets';
import type { WorkerJob, WorkerResult } from './worker';

const HANG_MS = 10_000;
/** The C target (fuzz/native: libFuzzer with ASan/UBSan over the TUN offload code), run after the JS ones. */
const NATIVE = 'offload-c';

function parseArgs(argv: string[]): { runs: number; seed: number; names: string[] } {
  let runs = 1_000_000;
  let seed = Date.now() ^ (process.pid << 16);
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs' || a === '--seed') {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || (a === '--runs' && v < 1)) throw new Error(`${a} needs an integer, got ${argv[i]}`);
      if (a === '--runs') runs = v;
      else seed = v;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a} (--runs N, --seed S, then target names)`);
    else names.push(a === NATIVE ? NATIVE : targetNamed(a).name);
  }
  return { runs, seed: seed | 0, names: names.length > 0 ? names : [...TARGETS.map((t) => t.name), NATIVE] };
}

function runOne(job: Omit<WorkerJob, 'progress'>): Promise<WorkerResult & { hung?: number }> {
  const progress = new SharedArrayBuffer(4);
  const counter = new Int32Array(progress);
  const worker = new Worker(join(__dirname, 'worker.js'), { workerData: { ...job, progress } satisfies WorkerJob });
  return new Promise((resolve, reject) => {
    let last = -1;
    let still = 0;
    const started = Date.now();
    const watch = setInterval(() => {
      const n = Atomics.load(counter, 0);
      still = n === last ? still + 1000 : 0;
      last = n;
      if (still >= HANG_MS) {
        clearInterval(watch);
        void worker.terminate();
        resolve({ target: job.target, runs: n, ms: Date.now() - started, failed: true, hung: n, report: `no progress for ${HANG_MS / 1000} s at input ${n}: a hang (replay: npm run fuzz -- --seed ${job.seed} --runs ${n} ${job.target})`, summary: '' });
      }
    }, 1000);
    worker.once('message', (r: WorkerResult) => {
      clearInterval(watch);
      void worker.terminate();
      resolve(r);
    });
    worker.once('error', (err) => {
      clearInterval(watch);
      reject(err);
    });
  });
}

async function main(): Promise<void> {
  const { runs, seed, names } = parseArgs(process.argv.slice(2));
  console.log(`fuzzing ${names.join(', ')}: ${runs.toLocaleString('en')} inputs each, seed ${seed}`);
  let failed = 0;
  for (const name of names) {
    if (name === NATIVE) {
      const started = Date.now();
      const script = join(__dirname, '..', '..', 'fuzz', 'native', 'run.sh');
      const r = spawnSync('bash', [script, String(runs)], { stdio: 'inherit', env: { ...process.env, SEED: String(seed >>> 0) } });
      const ok = r.status === 0;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${runs.toLocaleString('en')} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s (libFuzzer; replay: SEED=${seed >>> 0} bash fuzz/native/run.sh ${runs})`);
      if (!ok) failed++;
      continue;
    }
    const r = await runOne({ target: name, runs, seed });
    const rate = r.ms > 0 ? Math.round((r.runs * 1000) / r.ms) : 0;
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${name}: ${r.runs.toLocaleString('en')} inputs in ${(r.ms / 1000).toFixed(1)} s (${rate.toLocaleString('en')}/s)`);
    if (r.summary) console.log(`     ${r.summary}`);
    if (r.failed) {
      failed++;
      console.log(r.report.replace(/^/gm, '     '));
    }
  }
  if (failed > 0) {
    console.log(`${failed} of ${names.length} targets failed`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`fuzz: ${(err as Error).message}`);
  process.exit(2);
});
