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

/** strtoul(s, &end, 0) consuming the whole string, digits only (no sign or spaces); null if not. */
export function strtoulWhole(s: string): number | null {
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return parseInt(s, 8);
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  return null;
}

