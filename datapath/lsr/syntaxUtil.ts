// Small pieces shared by the iproute2 parsers: its matches(), its error wording, strtoul(…, 0).
import { RouteError } from './model';

export function matches(word: string, keyword: string): boolean {
  return word.length > 0 && keyword.startsWith(word);
}

export function fail(message: string): never {
  throw new RouteError(message);
}

export function q(s: string): string {
  return `"${s}"`;
}

/** The word after args[k], which the keyword `what` there needs; iproute2's error when missing. */
export function argumentAfter(args: readonly string[], k: number, what: string): string {
  const v = args[k + 1];
  if (v === undefined) fail(`Command line is not complete: ${q(what)} needs an argument`);
  return v;
}

/** strtoul(s, &end, 0) consuming the whole string, digits only (no sign or spaces); null if not. */
export function strtoulWhole(s: string): number | null {
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return parseInt(s, 8);
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  return null;
}


/**
 * A keyword table as iproute2 scans one, in its order: the first entry the word selects wins.
 * Written as one string, "src! metric ...": a trailing ! means iproute2 compares with strcmp
 * (the whole word), otherwise with matches() (any prefix).
 */
export class KeywordTable {
  private readonly entries: ReadonlyArray<{ name: string; exact: boolean }>;

  constructor(spec: string) {
    this.entries = spec
      .split(/\s+/)
      .filter((w) => w !== '')
      .map((w) => (w.endsWith('!') ? { name: w.slice(0, -1), exact: true } : { name: w, exact: false }));
  }

  /** The keyword `word` selects, or undefined. */
  find(word: string): string | undefined {
    return this.entries.find((e) => (e.exact ? word === e.name : matches(word, e.name)))?.name;
  }
}
