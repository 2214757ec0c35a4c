import pino from 'pino';

/** The logging surface the datapath uses; pino's Logger satisfies it, tests pass a silent one. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Logs go to stderr (stdout stays free for command output); level from WGMPLS_LOG_LEVEL. */
export function createLog(name: string): Log {
  return pino({ name, level: process.env.WGMPLS_LOG_LEVEL ?? 'info' }, pino.destination(2));
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
