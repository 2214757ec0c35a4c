// The libnetwork remote driver protocol: JSON over HTTP POST on a unix socket, one path per
// method (/Plugin.Activate, /NetworkDriver.CreateNetwork, ...). Every answer is JSON with
// Docker's plugin media type; a failure is {"Err": "..."}, which dockerd hands to the docker CLI.
import express, { NextFunction, Request, Response } from 'express';
import { Server, createServer } from 'node:http';
import { connect } from 'node:net';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Log } from '../../datapath/log';
import type { Mutex } from '../lock';
import { DriverError } from './errors';
import { describeZodError } from './schemas';
import { StateError } from '../state/store';

export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/**
 * HTTP status of an {"Err"} answer. dockerd's plugin client turns a non-200 answer into an error
 * carrying the Err text ("NetworkDriver.CreateNetwork: <text>"); with 200 libnetwork checks Err
 * itself ("remote: <text>"). Both reach the CLI; see plugin/README.md for what was observed.
 */
export const ERROR_STATUS = 500;

export interface Route {
  /** "Plugin.Activate", "NetworkDriver.CreateNetwork", ... */
  method: string;
  /** Handlers that change state or touch datapaths run one at a time. */
  exclusive: boolean;
  /** An empty body cannot be a valid request (CreateEndpoint, Join...). */
  needsBody: boolean;
  handle(body: unknown): unknown;
}

/** A route whose body is checked against a schema before the handler sees it. */
export function route<S extends z.ZodTypeAny>(method: string, schema: S, handler: (req: z.infer<S>) => unknown, exclusive = true): Route {
  return {
    method,
    exclusive,
    needsBody: !schema.safeParse({}).success,
    handle(body: unknown): unknown {
      const parsed = schema.safeParse(body ?? {});
      if (!parsed.success) throw new DriverError(describeZodError(method.replace(/^NetworkDriver\./, ''), parsed.error));
      return handler(parsed.data);
    },
  };
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(PLUGIN_MEDIA_TYPE).send(JSON.stringify(body));
}

export function buildApp(routes: readonly Route[], mutex: Mutex, log: Log): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // dockerd labels its bodies with the plugin media type (or nothing), and sends `null` for
  // methods without arguments: parse every body as JSON, top-level null included.
  app.use(express.json({ type: () => true, strict: false, limit: '1mb' }));
  for (const r of routes) {
    app.post(`/${r.method}`, (req: Request, res: Response) => {
      // dockerd's plugin client resends a call it got no answer to (the plugin was restarting)
      // without its body: say that, rather than which field is missing.
      if (r.needsBody && req.headers['content-length'] === '0') {
        log.warn({ call: r.method }, 'request without a body');
        send(res, ERROR_STATUS, { Err: `wgmpls ${r.method.replace(/^NetworkDriver\./, '')}: the request came without its body (dockerd resends a call it got no answer to, e.g. while the plugin restarted, without it); run the command again` });
        return;
      }
      const started = Date.now();
      const run = async (): Promise<unknown> => r.handle(req.body as unknown);
      (r.exclusive ? mutex.run(run) : run()).then(
        (body) => {
          log.debug({ call: r.method, ms: Date.now() - started }, 'request served');
          send(res, 200, body ?? {});
        },
        (err: unknown) => {
          // A state that cannot be saved (read-only, full) is the user's to fix, and says how.
          if (err instanceof DriverError || err instanceof StateError) {
            log.warn({ call: r.method, err: err.message }, 'request refused');
            send(res, ERROR_STATUS, { Err: err.message });
          } else {
            const message = err instanceof Error ? err.message : String(err);
            log.error({ call: r.method, err: message, stack: err instanceof Error ? err.stack : undefined }, 'request failed');
            send(res, ERROR_STATUS, { Err: `wgmpls ${r.method}: internal error: ${message}` });
          }
        },
      );
    });
  }
  app.use((req: Request, res: Response) => {
    log.warn({ path: req.path }, 'request for an unknown method');
    send(res, 404, { Err: `wgmpls: ${req.path.slice(1)} is not implemented` });
  });
  // Malformed JSON ends up here (express.json's error), as does anything thrown synchronously.
  app.use((err: Error, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    send(res, ERROR_STATUS, { Err: `wgmpls: bad request: ${err.message}` });
  });
  return app;
}

/** True when something answers on the socket (another plugin instance). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Listens on the unix socket, mode 0600 from the first moment (dockerd runs as root). */
export async function listen(app: express.Express, socketPath: string): Promise<Server> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  if (await socketAnswers(socketPath)) throw new Error(`another driver already answers on ${socketPath}`);
  try {
    unlinkSync(socketPath); // left by a plugin that was killed
  } catch {
    // none
  }
  const server = createServer(app);
  // The socket file is created inside listen() with the process umask: tighten it around that.
  const oldUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldUmask);
  }
  chmodSync(socketPath, 0o600);
  return server;
}
