// The short run of the C fuzz target in CI (`npm run fuzz` runs a million inputs): libFuzzer
// with AddressSanitizer and UBSan over the TUN offload code (fuzz/native/offload_fuzz.c), from
// the committed seeds. Needs clang, which scripts/install-deps.sh installs.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describeWhere, needProgram } from '../canRun';

const RUNS = 50_000;

describeWhere(needProgram('clang'))('fuzz target offload-c (libFuzzer)', () => {
  test(`${RUNS} inputs: split and coalesce never write outside their buffers, cover every packet once, never crash`, () => {
    const r = spawnSync('bash', [join(__dirname, '..', '..', 'fuzz', 'native', 'run.sh'), String(RUNS)], { encoding: 'utf8', timeout: 180_000 });
    expect({ status: r.status, out: r.stdout.slice(-2000) }).toEqual({ status: 0, out: expect.stringContaining(`stat::number_of_executed_units: ${RUNS}`) });
  }, 200_000);
});
