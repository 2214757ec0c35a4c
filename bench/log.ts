// One place that writes the bench's progress and report, so that every module prints the same way.
export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}
