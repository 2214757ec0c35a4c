// The addon's handles end in two ways at once: explicitly (stopReading, aeadDestroy) and when the
// garbage collector finalizes the JS external. Node runs those finalizers from the check phase
// (native immediates), and uv_close's callback of a stopped reader comes after it, in the closing
// phase of the same loop turn; so a handle stopped, dropped and collected in one turn has its
// external freed before its reader is. The reader's close callback once wrote into that freed
// external (jest exiting 139, "double free or corruption", "free(): invalid next size").
//
// A batch reader also writes into JS-owned memory (its arena and descriptor array), which must
// live exactly as long as the reader may write into it.
//
// Each scenario runs in a child node with --expose-gc: the collection has to be forced at that
// exact point, and a corrupted heap must kill the child, not the test runner.
import { spawnSync } from 'node:child_process';
import { addonPath } from '../../datapath/native/addon';

/** Runs `body` (plain JS, `addon` in scope) in a child node; what it prints last, parsed. */
function runChild(body: string): { status: number | null; signal: string | null; out: unknown; stderr: string } {
  const script = `const addon = require(process.argv[1]);\n${body}`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, addonPath()], { encoding: 'utf8', timeout: 30_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let out: unknown = last;
  try {
    out = JSON.parse(last);
  } catch {
    // Not JSON: the child died first; `last` (and stderr) say how.
  }
  return { status: r.status, signal: r.signal, out, stderr: r.stderr.slice(-2000) };
}

describe('native handles: explicit close and finalizer in either order', () => {
  test('readers stopped, dropped and collected in one loop turn: no write into the freed handle, and readers made right after still stop', () => {
    // 64 readers on socket pairs (a TUN stand-in, no root needed). Readers started from a
    // setImmediate run after the finalizers and before the close callbacks, so their handles
    // take the memory just freed: the stale write showed as a later stopReading refusing "a
    // handle of another kind", a reader that went on reading after stopReading, or a crash.
    const r = runChild(`
      const N = 64;
      const old = [];
      for (let i = 0; i < N; i++) old.push(addon.socketPair());
      let handles = old.map(([a]) => addon.startReading(a, () => {}));
      for (const h of handles) addon.stopReading(h);
      handles = null;
      globalThis.gc();
      let late = 0;
      setImmediate(() => {
        const fresh = [];
        for (let i = 0; i < N; i++) {
          const p = addon.socketPair();
          fresh.push({ p, h: addon.startReading(p[0], (packets) => { if (packets !== null) late += packets.length; }) });
        }
        setTimeout(() => {
          let stopped = 0;
          for (const f of fresh) { addon.stopReading(f.h); stopped++; }
          for (const f of fresh) addon.write(f.p[1], 0x0800, Buffer.alloc(20), 0);
          setTimeout(() => {
            for (const f of fresh) { addon.close(f.p[0]); addon.close(f.p[1]); }
            for (const [a, b] of old) { addon.close(a); addon.close(b); }
            console.log(JSON.stringify({ stopped, late }));
          }, 50);
        }, 20);
      });
    `);
    expect(r).toEqual({ status: 0, signal: null, out: { stopped: 64, late: 0 }, stderr: '' });
  });

  test('batch readers (JS-owned arenas) stopped in their own callback, then collected: the next readers work', () => {
    // The UDP batch reader over loopback: its callback stops it mid-drain, the arena then belongs
    // to nobody but the collector, and the next readers are given fresh arenas.
    const r = runChild(`
      const dgram = require('node:dgram');
      const tx = dgram.createSocket('udp4');
      const rounds = [];
      const round = (i) => {
        const u = addon.udpOpen(4, '127.0.0.1', 0, 0);
        let arena = Buffer.alloc(16 * 65536);
        let desc = new Uint32Array(16 * 64 * 3);
        let got = 0;
        let h = addon.udpStartReadingBatch(u.fd, arena, desc, (count) => {
          if (count !== null) got += count;
          addon.stopReading(h);
          h = arena = desc = null;
          globalThis.gc();
          setImmediate(() => {
            addon.udpClose(u.fd);
            rounds.push(got);
            if (i + 1 < 16) round(i + 1);
            else { tx.close(); console.log(JSON.stringify({ rounds: rounds.length, all: rounds.every((n) => n >= 1) })); }
          });
        });
        for (let k = 0; k < 8; k++) tx.send(Buffer.alloc(100, k), u.port, '127.0.0.1');
      };
      round(0);
    `);
    expect(r).toEqual({ status: 0, signal: null, out: { rounds: 16, all: true }, stderr: '' });
  });

  test('a batch reader keeps its arena and descriptor array alive while it reads, whatever its callback holds, and lets go once stopped', () => {
    // The reader writes into JS-owned memory; with only the caller's closure to keep it alive, a
    // callback that did not mention the arena let the collector free it under the reader.
    const r = runChild(`
      const dgram = require('node:dgram');
      const collected = new Set();
      const registry = new FinalizationRegistry((what) => collected.add(what));
      const u = addon.udpOpen(4, '127.0.0.1', 0, 0);
      let got = 0;
      const h = (() => {
        const arena = Buffer.alloc(16 * 65536);
        const desc = new Uint32Array(16 * 64 * 3);
        registry.register(arena.buffer, 'arena');
        registry.register(desc.buffer, 'desc');
        return addon.udpStartReadingBatch(u.fd, arena, desc, (count) => { if (count !== null) got += count; });
      })();
      const tx = dgram.createSocket('udp4');
      const settle = (then) => { globalThis.gc(); setTimeout(() => { globalThis.gc(); setTimeout(then, 20); }, 20); };
      settle(() => {
        const whileReading = [...collected].sort();
        for (let k = 0; k < 8; k++) tx.send(Buffer.alloc(1000, k), u.port, '127.0.0.1');
        setTimeout(() => {
          addon.stopReading(h);
          settle(() => settle(() => {
            tx.close();
            addon.udpClose(u.fd);
            console.log(JSON.stringify({ whileReading, got, afterStop: [...collected].sort() }));
          }));
        }, 100);
      });
    `);
    expect(r).toEqual({ status: 0, signal: null, out: { whileReading: [], got: 8, afterStop: ['arena', 'desc'] }, stderr: '' });
  });

  test('transport keys destroyed, then finalized (and finalized without destroy): keys made afterwards still seal and open', () => {
    const r = runChild(`
      let keys = [];
      for (let i = 0; i < 64; i++) keys.push(addon.aeadKey(Buffer.alloc(32, i)));
      for (let i = 0; i < 64; i += 2) { addon.aeadDestroy(keys[i]); addon.aeadDestroy(keys[i]); }
      let refused = 0;
      try { addon.sealTransport(keys[0], 4, 0, 1, 0, 0, Buffer.alloc(16), 0, 0); } catch (e) { if (e.code === 'EKEYDESTROYED') refused++; }
      keys = null;
      globalThis.gc();
      setImmediate(() => {
        globalThis.gc();
        let opened = 0;
        for (let i = 0; i < 64; i++) {
          const k = addon.aeadKey(Buffer.alloc(32, 7));
          const msg = addon.sealTransport(k, 4, 0, 1, i, 0, Buffer.alloc(32, i), 0, 0);
          if (addon.openTransport(k, i, 0, msg, 0, 0) === 32 && msg[16] === i) opened++;
          addon.aeadDestroy(k);
        }
        console.log(JSON.stringify({ refused, opened }));
      });
    `);
    expect(r).toEqual({ status: 0, signal: null, out: { refused: 1, opened: 64 }, stderr: '' });
  });
});
