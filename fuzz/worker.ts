// One target's run in a worker thread (run.ts watches it): fast-check drives the property for
// `runs` inputs from `seed`, bumping a shared counter before each input so that the main thread
// can tell a hang (the counter stops) from slow progress.
import fc from 'fast-check';
import { parentPort, workerData } from 'node:worker_threads';
import { property } from './target';
import { targetNamed } from './targets';

export interface WorkerJob {
  target: string;
  runs: number;
  seed: number;
  /** Int32Array[0]: inputs started. */
  progress: SharedArrayBuffer;
}

export interface WorkerResult {
  target: string;
  runs: number;
  ms: number;
  failed: boolean;
  /** fast-check's report: the seed, the path and the shrunk input that broke a property. */
  report: string;
  summary: string;
}

async function main(job: WorkerJob): Promise<WorkerResult> {
  const counter = new Int32Array(job.progress);
  const t = await targetNamed(job.target).make();
  const started = Date.now();
  const details = await fc.check(property(t, () => Atomics.add(counter, 0, 1)), { numRuns: job.runs, seed: job.seed, endOnFailure: false });
  const ms = Date.now() - started;
  return {
    target: job.target,
    runs: details.numRuns,
    ms,
    failed: details.failed,
    report: details.failed ? `${fc.defaultReportMessage(details) ?? 'failed'}\nerror: ${(details.errorInstance as Error | undefined)?.message ?? String(details.errorInstance)}` : '',
    summary: t.summary?.() ?? '',
  };
}

main(workerData as WorkerJob).then(
  (r) => parentPort?.postMessage(r),
  (err: unknown) => parentPort?.postMessage({ target: (workerData as WorkerJob).target, runs: 0, ms: 0, failed: true, report: `the target did not start: ${(err as Error).stack ?? String(err)}`, summary: '' }),
);
