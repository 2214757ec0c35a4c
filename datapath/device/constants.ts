// Protocol constants from the WireGuard paper (section 6) and wireguard-go device/constants.go.
// Times are in milliseconds. Tests may shorten them through `timingFromEnv`, never production.

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
 * Test-only: WGMPLS_TEST_TIMING='{"rekeyAfterTime":3000,...}' overrides timing so that a
 * CI test can watch a rekey happen against a real peer without waiting two minutes.
 */
export function timingFromEnv(env: NodeJS.ProcessEnv = process.env): Timing {
  const raw = env.WGMPLS_TEST_TIMING;
  if (!raw) return defaultTiming;
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('WGMPLS_TEST_TIMING must be a JSON object');
  const out: Timing = { ...defaultTiming };
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in defaultTiming)) throw new Error(`WGMPLS_TEST_TIMING: unknown field ${k}`);
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`WGMPLS_TEST_TIMING: ${k} must be a positive number`);
    out[k as keyof Timing] = v;
  }
  return out;
}
