// Protocol constants from the WireGuard paper (section 6) and wireguard-go device/constants.go.
// Times are in milliseconds. Tests may shorten them through `--test-timing` (parseTestTiming),
// never through the environment.

export interface Timing {
  rekeyAfterTime: number;
  rejectAfterTime: number;
  rekeyAttemptTime: number;
  rekeyTimeout: number;
  rekeyTimeoutJitterMax: number;
  keepaliveTimeout: number;
  cookieRefreshTime: number;
  handshakeInitiationRate: number;
}

export const defaultTiming: Timing = Object.freeze({
  rekeyAfterTime: 120_000,
  rejectAfterTime: 180_000,
  rekeyAttemptTime: 90_000,
  rekeyTimeout: 5_000,
  rekeyTimeoutJitterMax: 334,
  keepaliveTimeout: 10_000,
  cookieRefreshTime: 120_000,
  handshakeInitiationRate: 50,
});

export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;
/** Same bounds as numbers: send counters stay far below 2^53 in any real session. */
export const REKEY_AFTER_MESSAGES_NUM = 2 ** 60;
export const REJECT_AFTER_MESSAGES_NUM = Number.MAX_SAFE_INTEGER;

export const MAX_TIMER_HANDSHAKES = (t: Timing): number => Math.floor(t.rekeyAttemptTime / t.rekeyTimeout);

export const QUEUE_STAGED_SIZE = 128;
export const PADDING_MULTIPLE = 16;
/** Same default as wireguard-go: 1500 minus the largest (IPv6) WireGuard overhead. */
export const DEFAULT_MTU = 1420;
/** Handshake messages per second above which the device asks for cookies (mac2). */
export const UNDER_LOAD_HANDSHAKES_PER_SECOND = 64;
export const UNDER_LOAD_AFTER_TIME = 1_000;

/**
 * Test-only: shortened protocol timers, from the JSON the datapath's hidden `--test-timing`
 * option carries (`{"rekeyAfterTime":3000,...}`), so that a test can watch a rekey happen
 * against a real peer without waiting two minutes. Only an explicit command-line flag may do
 * this: an environment variable would be inherited by every datapath the plugin spawns, and a
 * production tunnel would silently run with test timers. Throws an Error naming the bad field.
 */
export function parseTestTiming(json: string): Timing {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('--test-timing must be a JSON object, e.g. {"rekeyAfterTime":3000}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('--test-timing must be a JSON object');
  const out: Timing = { ...defaultTiming };
  for (const [k, v] of Object.entries(parsed)) {
    if (!Object.prototype.hasOwnProperty.call(defaultTiming, k)) {
      throw new Error(`--test-timing: unknown field ${JSON.stringify(k.slice(0, 40))} (known: ${Object.keys(defaultTiming).join(', ')})`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new Error(`--test-timing: ${k} must be a positive number of milliseconds`);
    out[k as keyof Timing] = v;
  }
  return out;
}

/** Words per packet in a TUN batch's descriptors: offset, length, ethertype, group size. */
export const TUN_DESC_WORDS = 4;
/** Words per packet in descriptors of packets going up the TUN: offset, length, ethertype. */
export const TUN_WRITE_DESC_WORDS = 3;
/** Words per datagram in a UDP batch's descriptors: offset, length, endpoint index. */
export const UDP_DESC_WORDS = 3;
