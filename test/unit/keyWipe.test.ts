// Key material is wiped, not left to the garbage collector: the old static private key, the
// precomputed static-static secrets and the preshared key on key change or peer removal; a
// pending initiation's chaining key; session keys when they expire. Each test keeps references
// to the old buffers and checks that they are all zero afterwards.
import { change, handshake, isZero, must, pair, peerChange, v4, A4, B4 } from './deviceHarness';
import { generatePrivateKey } from '../../datapath/crypto/x25519';
import type { Device } from '../../datapath/device/device';
import type { DeviceState } from '../../datapath/device/state';

const stateOf = (dev: Device): DeviceState => (dev as unknown as { state: DeviceState }).state;
const psk = (): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => i + 1);

describe('key material is wiped', () => {
  test('a new private key wipes the old one, every precomputed static-static secret and the sessions', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const oldKey = must(stateOf(a.device).identity).privateKey;
    const ss = must(a.peerOf(b).precomputedSs);
    const kp = must(a.peerOf(b).keypairs.current);
    expect(isZero(oldKey) || isZero(ss) || isZero(kp.sendKey)).toBe(false);
    await a.device.apply(change([], { privateKey: generatePrivateKey() }));
    expect(isZero(oldKey)).toBe(true);
    expect(isZero(ss)).toBe(true);
    expect(a.peerOf(b).precomputedSs).toBeNull();
    expect(isZero(kp.sendKey) && isZero(kp.receiveKey)).toBe(true);
    // The new key is in use and not wiped.
    expect(isZero(must(stateOf(a.device).identity).privateKey)).toBe(false);
  });

  test('setting the same private key again wipes nothing; removing it (all zero) wipes it', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const key = must(stateOf(a.device).identity).privateKey;
    await a.device.apply(change([], { privateKey: Uint8Array.from(a.privateKey) }));
    expect(must(stateOf(a.device).identity).privateKey).toBe(key);
    expect(isZero(key)).toBe(false);
    await a.device.apply(change([], { privateKey: null }));
    expect(stateOf(a.device).identity).toBeNull();
    expect(isZero(key)).toBe(true);
  });

  test('a new preshared key wipes the old one', async () => {
    const { a, b } = await pair();
    await a.device.apply(change([peerChange(b, { presharedKey: psk() })]));
    const old = a.peerOf(b).presharedKey;
    expect(isZero(old)).toBe(false);
    await a.device.apply(change([peerChange(b, { presharedKey: psk().reverse() })]));
    expect(isZero(old)).toBe(true);
    expect(isZero(a.peerOf(b).presharedKey)).toBe(false);
  });

  test.each([
    ['remove=true', (bPub: Uint8Array) => change([{ publicKey: bPub, remove: true, updateOnly: false, replaceAllowedIps: false, allowedIps: [] }])],
    ['replace_peers=true', () => change([], { replacePeers: true })],
  ])('removing a peer (%s) wipes its preshared key, static-static secret, sessions and pending initiation', async (_, removal) => {
    const { net, a, b } = await pair();
    await a.device.apply(change([peerChange(b, { presharedKey: psk() })]));
    await b.device.apply(change([peerChange(a, { presharedKey: psk(), endpoint: false })]));
    handshake(net, a, b);
    const peer = a.peerOf(b);
    const keepPsk = peer.presharedKey;
    const ss = must(peer.precomputedSs);
    const kp = must(peer.keypairs.current);
    // A rekey in flight: an initiation whose response never comes.
    net.advance(121_000);
    a.device.sendIp(v4(A4, B4));
    const init = must(peer.initiation).state;
    net.queue = [];
    expect(isZero(init.chainKey)).toBe(false);
    await a.device.apply(removal(b.publicKey));
    expect(a.device.peer(b.publicKey)).toBeUndefined();
    expect(isZero(keepPsk)).toBe(true);
    expect(isZero(ss)).toBe(true);
    expect(isZero(kp.sendKey) && isZero(kp.receiveKey)).toBe(true);
    expect(isZero(init.chainKey) && isZero(init.hash)).toBe(true);
  });

  test('after a rekey the previous session is wiped when it expires, while the current one lives on', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const first = must(a.peerOf(b).keypairs.current);
    net.advance(121_000, 1_000);
    a.device.sendIp(v4(A4, B4, 'rekey'));
    net.flush();
    const second = must(a.peerOf(b).keypairs.current);
    expect(second).not.toBe(first);
    expect(a.peerOf(b).keypairs.previous).toBe(first);
    net.advance(first.created + 180_000 - net.clock.now(), 1_000);
    expect(isZero(first.sendKey) && isZero(first.receiveKey)).toBe(true);
    expect(a.peerOf(b).keypairs.previous).toBeNull();
    expect(a.peerOf(b).keypairs.current).toBe(second);
    expect(isZero(second.sendKey)).toBe(false);
    a.device.sendIp(v4(A4, B4, 'still flows'));
    net.flush();
    expect(b.tun.map((t) => t.packet.subarray(28).toString())).toContain('still flows');
    net.advance(second.created + 180_000 - net.clock.now(), 1_000);
    expect(isZero(second.sendKey)).toBe(true);
  });
});
