// The real `wg` (wireguard-tools) against a UapiServer running in this process, on the real
// /var/run/wireguard. Needs root (the directory) and the wg binary (test/canRun.ts).

import { promises as fsp } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Errno, UapiError } from '../../datapath/device/config';
import { keyToHex, prefixToString } from '../../datapath/ipc/uapi';
import { UapiServer } from '../../datapath/ipc/server';
import { FakeTarget } from '../fakeUapiTarget';
import { run } from './harness';
import { describeWhere, firstReason, needProgram, needRoot } from '../canRun';

const maybe = describeWhere(firstReason(needRoot('root (the socket directory /var/run/wireguard)'), needProgram('wg', ['--version'])));

const IF = `wgmt-uapi${process.pid % 1000}`;

async function wg(...args: string[]): Promise<string> {
  const r = await run('wg', args);
  if (r.code !== 0) throw new Error(`wg ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const b64 = (k: Uint8Array | null): string | null => (k ? Buffer.from(k).toString('base64') : null);

function rawTransaction(sockPath: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sockPath, () => c.write(payload));
    let text = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => {
      text += d;
      if (/errno=-?\d+\n\n$/.test(text)) {
        c.destroy();
        resolve(text);
      }
    });
    c.on('close', () => resolve(text));
    c.on('error', reject);
  });
}

maybe('wg (wireguard-tools) drives UapiServer', () => {
  let tmp: string;
  let target: FakeTarget;
  let server: UapiServer;
  const logs: string[] = [];
  let priv = '';
  let pub = '';
  let peer = '';
  let peer2 = '';
  let peer3 = '';
  let psk = '';

  async function genkey(): Promise<[string, string]> {
    const k = (await wg('genkey')).trim();
    const r = await run('wg', ['pubkey'], { input: `${k}\n` });
    return [k, r.stdout.trim()];
  }

  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'wgmt-uapi-'));
    target = new FakeTarget();
    server = await UapiServer.listen(IF, target, { log: (msg, fields) => logs.push(JSON.stringify({ msg, fields })) });
    [priv, pub] = await genkey();
    [, peer] = await genkey();
    [, peer2] = await genkey();
    [, peer3] = await genkey();
    psk = (await wg('genpsk')).trim();
    await fsp.writeFile(path.join(tmp, 'priv'), `${priv}\n`, { mode: 0o600 });
    await fsp.writeFile(path.join(tmp, 'psk'), `${psk}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    await server?.close();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  test('socket in /var/run/wireguard, root-only; wg lists the interface', async () => {
    expect(server.path).toBe(`/var/run/wireguard/${IF}.sock`);
    expect((await fsp.lstat(server.path)).mode & 0o777).toBe(0o600);
    expect((await wg('show', 'interfaces')).trim().split(/\s+/)).toContain(IF);
  });

  test('wg set, then wg show / dump / showconf report it', async () => {
    await wg(
      'set', IF, 'private-key', path.join(tmp, 'priv'), 'listen-port', '51820',
      'peer', peer, 'allowed-ips', '10.9.0.0/24,fd00::/64', 'endpoint', '127.0.0.1:51821', 'persistent-keepalive', '25',
    );
    expect(target.applied).toHaveLength(1);
    expect(b64(target.state.privateKey ?? null)).toBe(priv);
    expect(target.state.listenPort).toBe(51820);
    expect(target.state.peers).toHaveLength(1);
    expect(b64(target.state.peers[0].publicKey)).toBe(peer);
    expect(target.state.peers[0].allowedIps.map(prefixToString)).toEqual(['10.9.0.0/24', 'fd00::/64']);
    expect(target.state.peers[0].endpoint).toEqual({ address: '127.0.0.1', port: 51821 });
    expect(target.state.peers[0].persistentKeepaliveInterval).toBe(25);

    expect(await wg('show', IF)).toBe(
      `interface: ${IF}\n` +
        `  public key: ${pub}\n` +
        '  private key: (hidden)\n' +
        '  listening port: 51820\n' +
        '\n' +
        `peer: ${peer}\n` +
        '  endpoint: 127.0.0.1:51821\n' +
        '  allowed ips: 10.9.0.0/24, fd00::/64\n' +
        '  persistent keepalive: every 25 seconds\n',
    );
    expect(await wg('show', IF, 'dump')).toBe(
      `${priv}\t${pub}\t51820\toff\n` + `${peer}\t(none)\t127.0.0.1:51821\t10.9.0.0/24,fd00::/64\t0\t0\t0\t25\n`,
    );
    expect(await wg('showconf', IF)).toBe(
      '[Interface]\n' +
        'ListenPort = 51820\n' +
        `PrivateKey = ${priv}\n` +
        '\n' +
        '[Peer]\n' +
        `PublicKey = ${peer}\n` +
        'AllowedIPs = 10.9.0.0/24, fd00::/64\n' +
        'Endpoint = 127.0.0.1:51821\n' +
        'PersistentKeepalive = 25\n',
    );
    expect(await wg('show', IF, 'public-key')).toBe(`${pub}\n`);
    expect(await wg('show', IF, 'listen-port')).toBe('51820\n');
    expect(await wg('show', IF, 'allowed-ips')).toBe(`${peer}\t10.9.0.0/24 fd00::/64\n`);
    expect(await wg('show', IF, 'endpoints')).toBe(`${peer}\t127.0.0.1:51821\n`);
  });

  test('wg set peer ... remove', async () => {
    await wg('set', IF, 'peer', peer3, 'allowed-ips', '10.9.9.9/32');
    expect(target.state.peers).toHaveLength(2);
    await wg('set', IF, 'peer', peer3, 'remove');
    expect(target.state.peers.map((p) => b64(p.publicKey))).toEqual([peer]);
    const last = target.applied[target.applied.length - 1];
    expect(last.peers).toEqual([expect.objectContaining({ remove: true })]);
    expect(await wg('show', IF, 'peers')).toBe(`${peer}\n`);
  });

  test('wg setconf replaces everything; wg syncconf removes what is not in the file', async () => {
    await wg('set', IF, 'peer', peer3, 'allowed-ips', '10.9.9.9/32');
    const conf = path.join(tmp, 'wg.conf');
    await fsp.writeFile(
      conf,
      '[Interface]\n' +
        `PrivateKey = ${priv}\n` +
        'ListenPort = 51822\n' +
        'FwMark = 0x1234\n' +
        '\n' +
        '[Peer]\n' +
        `PublicKey = ${peer}\n` +
        `PresharedKey = ${psk}\n` +
        'AllowedIPs = 10.9.1.7/24\n' +
        'Endpoint = [fd00::1]:51823\n' +
        '\n' +
        '[Peer]\n' +
        `PublicKey = ${peer2}\n` +
        'AllowedIPs = 0.0.0.0/0, ::/0\n',
      { mode: 0o600 },
    );
    await wg('setconf', IF, conf);
    expect(target.applied[target.applied.length - 1].replacePeers).toBe(true);
    const dump = (await wg('show', IF, 'dump')).split('\n');
    expect(dump[0]).toBe(`${priv}\t${pub}\t51822\t0x1234`);
    expect(dump.slice(1).filter(Boolean).sort()).toEqual(
      [
        `${peer}\t${psk}\t[fd00::1]:51823\t10.9.1.0/24\t0\t0\t0\toff`,
        `${peer2}\t(none)\t(none)\t0.0.0.0/0,::/0\t0\t0\t0\toff`,
      ].sort(),
    );
    expect(await wg('show', IF, 'fwmark')).toBe('0x1234\n');
    expect(await wg('show', IF, 'preshared-keys')).toContain(`${peer}\t${psk}\n`);

    await fsp.writeFile(conf, `[Interface]\nListenPort = 51822\n\n[Peer]\nPublicKey = ${peer2}\nAllowedIPs = 0.0.0.0/0, ::/0\n`);
    await wg('syncconf', IF, conf);
    // As with wireguard-go: a file without PrivateKey/FwMark clears them (wg sends zero values).
    expect(await wg('show', IF, 'dump')).toBe(`(none)\t(none)\t51822\toff\n${peer2}\t(none)\t(none)\t0.0.0.0/0,::/0\t0\t0\t0\toff\n`);
    expect(target.state.privateKey).toBeNull();
  });

  test('wg set with a malformed key fails and changes nothing', async () => {
    const before = JSON.stringify(target.snapshot(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const count = target.applied.length;
    const bad = path.join(tmp, 'bad');
    await fsp.writeFile(bad, `${priv.slice(0, 42)}\n`, { mode: 0o600 }); // 42 base64 chars: too short
    let r = await run('wg', ['set', IF, 'private-key', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/key/i);
    r = await run('wg', ['set', IF, 'listen-port', '1', 'peer', 'not-a-key', 'allowed-ips', '10.0.0.0/8']);
    expect(r.code).not.toBe(0);
    expect(target.applied).toHaveLength(count);
    expect(JSON.stringify(target.snapshot(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before);
  });

  test('device errors reach wg with the right errno (sign included)', async () => {
    target.failWith = new UapiError(Errno.EADDRINUSE, 'port in use');
    let r = await run('wg', ['set', IF, 'listen-port', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Unable to modify interface: Address already in use');
    target.failWith = new UapiError(Errno.EINVAL, 'nope');
    r = await run('wg', ['set', IF, 'listen-port', '1']);
    expect(r.stderr).toContain('Unable to modify interface: Invalid argument');
    target.failWith = null;
    expect(target.state.listenPort).toBe(51822);
  });

  test('raw transaction with an unknown key: errno=-22, nothing changes', async () => {
    const count = target.applied.length;
    const before = await wg('show', IF, 'dump');
    expect(await rawTransaction(server.path, `set=1\nlisten_port=1\npublic_key=${keyToHex(target.state.peers[0].publicKey)}\nremove=true\nfrobnicate=1\n\n`)).toBe('errno=-22\n\n');
    expect(await rawTransaction(server.path, 'set=1\nlisten_port=1\nno equals sign\n\n')).toBe('errno=-71\n\n');
    expect(target.applied).toHaveLength(count);
    expect(await wg('show', IF, 'dump')).toBe(before);
  });

  test('no key material in the log', () => {
    const all = logs.join('\n');
    const hexPriv = Buffer.from(priv, 'base64').toString('hex');
    const hexPsk = Buffer.from(psk, 'base64').toString('hex');
    for (const secret of [priv, psk, hexPriv, hexPsk]) expect(all).not.toContain(secret.slice(0, 16));
    expect(all).toContain('"op":"set"');
  });
});
