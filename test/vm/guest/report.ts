// How the guest reports: one line per scenario on the serial console,
// `VMTEST {"name":...,"ok":true|false,"ms":...,"detail":...}`, read back by test/vm/vm.test.ts.
export interface ScenarioReport {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export const REPORT_PREFIX = 'VMTEST ';

/** Runs one scenario; its failure is reported, not thrown, so the next one still runs. */
export async function scenario(name: string, body: () => Promise<string | void>): Promise<ScenarioReport> {
  const start = Date.now();
  let report: ScenarioReport;
  try {
    const detail = await body();
    report = { name, ok: true, ms: Date.now() - start, detail: detail ?? '' };
  } catch (err) {
    report = { name, ok: false, ms: Date.now() - start, detail: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  console.log(REPORT_PREFIX + JSON.stringify(report));
  return report;
}

/** A failed expectation, saying what was expected and what came. */
export function expectThat(cond: boolean, what: string, got: unknown): void {
  if (!cond) throw new Error(`expected ${what}; got ${typeof got === 'string' ? got : JSON.stringify(got)}`);
}
