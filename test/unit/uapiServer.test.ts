// UapiServer (datapath/ipc/server.ts): the UAPI socket as wg and wireguard-go's clients use it,
// against the fake target of test/fakeUapiTarget.ts. The text protocol itself: uapi.test.ts.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Errno, UapiError } from '../../datapath/device/config';
import { ENOANO, formatGet } from '../../datapath/ipc/uapi';
import { UapiServer, validIfname } from '../../datapath/ipc/server';
import { FakeTarget } from '../fakeUapiTarget';

const K1 = '1111111111111111111111111111111111111111111111111111111111111111';
const K2 = '2222222222222222222222222222222222222222222222222222222222222222';
const PRIV = 'a8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6a';
const PSK = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ZERO = '0'.repeat(64);


// --------------------------------------------------------------------------------- server

/** Sends `payload`, collects until `answers` errno trailers arrived or the server hung up. */
function talk(sockPath: string, payload: string | string[], answers = 1): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sockPath);
    let text = '';
    let settled = false;
    const done = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      c.destroy();
      resolve({ text, closedByServer });
    };
    c.setEncoding('latin1');
    c.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) c.write(p);
    });
    c.on('data', (d: string) => {
      text += d;
      if ((text.match(/errno=-?\d+\n\n/g) ?? []).length >= answers) done(false);
    });
    c.on('end', () => done(true));
    c.on('close', () => done(true));
    c.on('error', (err) => (settled ? undefined : reject(err)));
  });
}

describe('UapiServer', () => {
  let dir: string;
  let target: FakeTarget;
  let server: UapiServer;
  let logs: Array<{ msg: string; fields?: object }>;

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'uapi-'));
    target = new FakeTarget();
    logs = [];
    server = await UapiServer.listen('wgtest0', target, { dir: path.join(dir, 'run', 'wireguard'), log: (msg, fields) => logs.push({ msg, fields }) });
  });
  afterEach(async () => {
    await server.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  test('socket at <dir>/<ifname>.sock, 0600, directory created 0755', async () => {
    expect(server.path).toBe(path.join(dir, 'run', 'wireguard', 'wgtest0.sock'));
    const st = await fsp.lstat(server.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await fsp.stat(path.join(dir, 'run', 'wireguard'))).mode & 0o777).toBe(0o755);
  });

  test('get and set, several requests on one connection, pipelined', async () => {
    const r = await talk(server.path, [`set=1\nprivate_key=${PRIV}\nlisten_port=51820\n\nget=1\n\n`, 'set=1\nfwmark=7\n\nget=1\n\n'], 4);
    expect(r.text).toBe(
      'errno=0\n\n' +
        `private_key=${PRIV}\nlisten_port=51820\nerrno=0\n\n` +
        'errno=0\n\n' +
        `private_key=${PRIV}\nlisten_port=51820\nfwmark=7\nerrno=0\n\n`,
    );
    expect(target.applied).toHaveLength(2);
  });

  test('requests split across arbitrary chunks, CRLF set lines accepted', async () => {
    const bytes = `set=1\r\nlisten_port=1\r\n\r\n`;
    // "set=1\r" is not an operation (wireguard-go compares the whole line): hang up.
    expect(await talk(server.path, bytes)).toEqual({ text: '', closedByServer: true });
    const chunks = 'set=1\nlisten_port=2\r\nfwmark=3\n\nget=1\n\n'.split('');
    const r = await talk(server.path, chunks, 2);
    expect(r.text).toBe('errno=0\n\nlisten_port=2\nfwmark=3\nerrno=0\n\n');
  });

  test('wgmpls-label-auth: set true/false per peer, shown by wgmpls-get=1 only (a plain get stays what wg parses)', async () => {
    expect((await talk(server.path, `set=1\npublic_key=${K1}\nwgmpls-label-auth=true\npublic_key=${K2}\n\n`)).text).toBe('errno=0\n\n');
    const plain = (await talk(server.path, 'get=1\n\n')).text;
    expect(plain).not.toContain('wgmpls');
    const ext = (await talk(server.path, 'wgmpls-get=1\n\n')).text;
    expect(ext).toContain(`public_key=${K1}\npreshared_key=${ZERO}\nprotocol_version=1\nwgmpls-label-auth=true\n`);
    expect(ext).toContain(`public_key=${K2}\npreshared_key=${ZERO}\nprotocol_version=1\nwgmpls-label-auth=false\n`);
    // Apart from the extension lines, the same text as get.
    expect(ext.split('\n').filter((l) => !l.startsWith('wgmpls-')).join('\n')).toBe(plain);
    await talk(server.path, `set=1\npublic_key=${K1}\nwgmpls-label-auth=false\n\n`);
    expect((await talk(server.path, 'wgmpls-get=1\n\n')).text).not.toContain('wgmpls-label-auth=true');
    // A bad value is refused whole; nothing of the transaction is applied.
    await talk(server.path, `set=1\npublic_key=${K1}\nwgmpls-label-auth=true\n\n`);
    const before = formatGet(target.snapshot(), true);
    expect((await talk(server.path, `set=1\nlisten_port=9\npublic_key=${K2}\nwgmpls-label-auth=yes\n\n`)).text).toBe('errno=-22\n\n');
    expect(formatGet(target.snapshot(), true)).toBe(before);
    // wgmpls-get=1 followed by another byte: like get, EINVAL and the connection goes on.
    expect((await talk(server.path, 'wgmpls-get=1\nxget=1\n\n', 2)).text).toBe(`errno=-22\n\n${formatGet(target.snapshot())}`);
  });

  test('a bad transaction answers wireguard-go errno and changes nothing', async () => {
    await talk(server.path, 'set=1\nlisten_port=51820\n\n');
    const before = formatGet(target.snapshot());
    expect((await talk(server.path, `set=1\nlisten_port=1\npublic_key=${K1}\nallowed_ip=10.0.0.0/8\nbogus=1\n\n`)).text).toBe('errno=-22\n\n');
    expect((await talk(server.path, `set=1\nlisten_port=1\nno-equals-sign\n\n`)).text).toBe('errno=-71\n\n');
    expect((await talk(server.path, `set=1\npublic_key=${K1}\nprotocol_version=2\n\n`)).text).toBe('errno=-22\n\n');
    expect(formatGet(target.snapshot())).toBe(before);
    expect(target.applied).toHaveLength(1);
  });

  test('device errors: UapiError errno is passed through, anything else is ENOANO', async () => {
    target.failWith = new UapiError(Errno.EADDRINUSE, 'port in use');
    expect((await talk(server.path, 'set=1\nlisten_port=1\n\n')).text).toBe('errno=-98\n\n');
    target.failWith = new Error('boom');
    expect((await talk(server.path, 'set=1\nlisten_port=1\n\n')).text).toBe(`errno=-${ENOANO}\n\n`);
  });

  test('get=1 followed by another byte: EINVAL, byte consumed, connection goes on', async () => {
    const r = await talk(server.path, 'get=1\nxget=1\n\n', 2);
    expect(r.text).toBe('errno=-22\n\nerrno=0\n\n');
  });

  test('unknown operation: hang up without an answer, like wireguard-go', async () => {
    expect(await talk(server.path, 'bogus=1\n\n')).toEqual({ text: '', closedByServer: true });
    expect(await talk(server.path, 'get=2\n\n')).toEqual({ text: '', closedByServer: true });
    expect(await talk(server.path, 'x'.repeat(1000))).toEqual({ text: '', closedByServer: true });
    // ...after answering what came before it
    expect(await talk(server.path, 'get=1\n\nwhat\n', 2)).toEqual({ text: 'errno=0\n\n', closedByServer: true });
  });

  test('EOF in the middle of a set applies what arrived and answers (wireguard-go)', async () => {
    const r = await new Promise<string>((resolve) => {
      const c = net.createConnection(server.path);
      let text = '';
      c.setEncoding('latin1');
      c.on('data', (d: string) => (text += d));
      c.on('close', () => resolve(text));
      c.on('connect', () => c.end('set=1\nlisten_port=4242\nfwmark=9'));
    });
    expect(r).toBe('errno=0\n\n');
    expect(target.state.listenPort).toBe(4242);
    expect(target.state.fwmark).toBe(9);
  });

  test('line too long: EIO and hang up', async () => {
    const r = await talk(server.path, `set=1\nallowed_ip=${'1'.repeat(70 * 1024)}\n\n`);
    expect(r.text).toBe('errno=-5\n\n');
    expect(target.applied).toHaveLength(0);
  });

  test('early close and garbage never take the server down', async () => {
    for (const payload of ['get=1\n', 'set=1\nlisten_port=1\n', 'set=1\n', 'ge', '\0\xff\n\n', 'set=1\n\xff\xfe=\x00\n\n']) {
      await new Promise<void>((resolve) => {
        const c = net.createConnection(server.path, () => {
          c.write(payload);
          setImmediate(() => {
            c.destroy();
            resolve();
          });
        });
        c.on('error', () => resolve());
      });
    }
    // A client that disconnects before the (slow) answer is written.
    target.delayMs = 30;
    await new Promise<void>((resolve) => {
      const c = net.createConnection(server.path, () => {
        c.write('set=1\nlisten_port=5\n\n');
        setTimeout(() => {
          c.destroy();
          resolve();
        }, 5);
      });
    });
    await new Promise((r) => setTimeout(r, 60));
    target.delayMs = 0;
    expect((await talk(server.path, 'get=1\n\n')).text).toMatch(/errno=0\n\n$/);
  });

  test('operations are serialised: a get waits for a slow apply on another connection', async () => {
    target.delayMs = 50;
    const set = talk(server.path, 'set=1\nlisten_port=777\n\n');
    await new Promise((r) => setTimeout(r, 10));
    const get = talk(server.path, 'get=1\n\n');
    expect((await get).text).toBe('listen_port=777\nerrno=0\n\n');
    expect((await set).text).toBe('errno=0\n\n');
  });

  test('logs carry the operation and errno, never key material', async () => {
    await talk(server.path, `set=1\nprivate_key=${PRIV}\npublic_key=${K1}\npreshared_key=${PSK}\n\n`);
    await talk(server.path, `set=1\nprivate_key=${PRIV.slice(1)}\n\n`);
    await talk(server.path, 'get=1\n\n');
    await talk(server.path, `${PRIV}\n`);
    const all = JSON.stringify(logs);
    for (const k of [PRIV, PRIV.slice(1), K1, PSK]) expect(all).not.toContain(k.slice(0, 16));
    expect(logs).toEqual(
      expect.arrayContaining([
        { msg: 'uapi request', fields: { ifname: 'wgtest0', op: 'set', errno: 0 } },
        { msg: 'uapi request', fields: { ifname: 'wgtest0', op: 'set', errno: 22 } },
        { msg: 'uapi request', fields: { ifname: 'wgtest0', op: 'get', errno: 0 } },
      ]),
    );
  });

  test('refuses a socket something answers on; replaces a stale one; keeps a non-socket', async () => {
    await expect(UapiServer.listen('wgtest0', new FakeTarget(), { dir: path.dirname(server.path) })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining('already'),
    });
    // still serving
    expect((await talk(server.path, 'get=1\n\n')).text).toBe('errno=0\n\n');

    // A stale socket: its owner was SIGKILLed, the file stayed.
    const stale = path.join(path.dirname(server.path), 'wgstale.sock');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.stdout.write('up'))`]);
      child.stdout.once('data', () => child.kill('SIGKILL'));
      child.once('exit', () => resolve());
      child.once('error', reject);
    });
    expect((await fsp.lstat(stale)).isSocket()).toBe(true);
    const s2 = await UapiServer.listen('wgstale', target, { dir: path.dirname(server.path) });
    expect((await talk(s2.path, 'get=1\n\n')).text).toBe('errno=0\n\n');
    await s2.close();

    const file = path.join(path.dirname(server.path), 'wgfile.sock');
    await fsp.writeFile(file, 'not a socket');
    await expect(UapiServer.listen('wgfile', target, { dir: path.dirname(server.path) })).rejects.toThrow(/not a socket/);
    expect(await fsp.readFile(file, 'utf8')).toBe('not a socket');
  });

  test('close() hangs up and unlinks the socket; idempotent', async () => {
    const c = net.createConnection(server.path);
    await new Promise((r) => c.once('connect', r));
    const closed = new Promise((r) => c.once('close', r));
    await server.close();
    await closed;
    await expect(fsp.lstat(server.path)).rejects.toMatchObject({ code: 'ENOENT' });
    await server.close();
  });

  test('interface names', async () => {
    expect(validIfname('wg0')).toBe(true);
    expect(validIfname('a'.repeat(15))).toBe(true);
    for (const bad of ['', 'a'.repeat(16), '.', '..', 'a/b', 'a:b', 'a b']) {
      expect(validIfname(bad)).toBe(false);
      await expect(UapiServer.listen(bad, target, { dir })).rejects.toThrow(/interface name/);
    }
  });
});
