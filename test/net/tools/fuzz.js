// Sends N mutated WireGuard messages to a datapath, paced so the kernel's socket buffer does
// not drop them before the datapath sees them. Usage:
//   node fuzz.js <host> <port> <count> <seed> <template-hex>[,<template-hex>...]
// Prints the number of datagrams sent.
'use strict';
const dgram = require('node:dgram');

const [host, portS, countS, seedS, templatesS] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const templates = templatesS.split(',').map((h) => Buffer.from(h, 'hex'));

let state = Number(seedS) >>> 0 || 1;
function rnd(n) {
  // xorshift32: reproducible from the seed printed by the test
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state % n;
}
function randomBytes(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rnd(256);
  return b;
}

function mutate(i) {
  const t = templates[rnd(templates.length)];
  switch (i % 8) {
    case 0:
      return randomBytes(rnd(200));
    case 1:
      return Buffer.from(t.subarray(0, rnd(t.length)));
    case 2: {
      const m = Buffer.from(t);
      for (let k = 1 + rnd(4); k > 0; k--) m[rnd(m.length)] ^= 1 << rnd(8);
      return m;
    }
    case 3:
      return Buffer.from(t); // an exact replay
    case 4: {
      const m = Buffer.from(t);
      m[0] = rnd(256);
      return m;
    }
    case 5:
      return Buffer.concat([t, randomBytes(rnd(8) === 0 ? 60000 : rnd(2000))]);
    case 6: {
      const m = Buffer.from(t);
      m[1 + rnd(3)] = 1 + rnd(255);
      return m;
    }
    default: {
      const m = Buffer.from(t.length >= 32 ? t : Buffer.alloc(64));
      m[0] = 4 + rnd(3);
      m.writeUInt32LE(rnd(0xffffffff), 4);
      m.writeUInt32LE(rnd(0xffffffff), 8);
      return m;
    }
  }
}

const sock = dgram.createSocket('udp4');
let sent = 0;
function batch() {
  if (sent >= count) {
    sock.close();
    console.log(String(sent));
    return;
  }
  let pending = 0;
  const n = Math.min(500, count - sent);
  for (let k = 0; k < n; k++) {
    pending++;
    sock.send(mutate(sent++), port, host, () => {
      if (--pending === 0) setTimeout(batch, 8);
    });
  }
}
sock.bind(0, batch);
