import pino from 'pino';
import pretty from 'pino-pretty';

/** The logging surface the datapath uses; pino's Logger satisfies it, tests pass a silent one. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Logs go to stderr (stdout stays free for command output); level from WGMPLS_LOG_LEVEL. A person
 * at a terminal gets one readable line per event (pino-pretty, in-process: no worker thread);
 * files and pipes get JSON lines, as do terminals with WGMPLS_LOG_FORMAT=json.
 */
export function createLog(name: string): Log {
  const level = process.env.WGMPLS_LOG_LEVEL ?? 'info';
  if (process.stderr.isTTY && process.env.WGMPLS_LOG_FORMAT !== 'json') {
    return pino({ name, level }, pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true }));
  }
  return pino({ name, level }, pino.destination(2));
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
