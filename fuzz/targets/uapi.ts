// The UAPI `set=1` parser (datapath/ipc/uapi.ts parseSet) on transactions made of real and
// made-up keys with real, near-real and wild values, then applied to a device of the
// in-process network (test/unit/deviceHarness.ts).
//
// Properties: parseSet returns a change or throws UapiError with EINVAL or EPROTO, never
// anything else; its message never repeats a key's value (it may be a mangled private key);
// a parsed change is applied whole or not at all (a refused apply leaves the device's
// configuration exactly as it was); the get answer stays parseable by the same rules wg uses.
import fc from 'fast-check';
import { Errno, UapiError } from '../../datapath/device/config';
import { formatGet, parseSet } from '../../datapath/ipc/uapi';
import { Net, Node } from '../../test/unit/deviceHarness';
import { FuzzTarget, expectThat } from '../target';

const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
const KEY_NAMES = ['private_key', 'public_key', 'preshared_key'];

const keyValue = fc.oneof(hex(64), fc.constant('0'.repeat(64)), hex(63), hex(65), fc.stringMatching(/^[0-9a-zA-Z+/=]{43,45}$/), fc.string({ maxLength: 70 }));
const numberValue = fc.oneof(
  fc.constantFrom('0', '1', '25', '65535', '65536', '4294967295', '4294967296', '-1', '01', '1e3', ' 1', '1 ', '0x10', '', '99999999999999999999999'),
  fc.nat().map(String),
  fc.string({ maxLength: 12 }),
);
const v4 = fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.nat({ max: 256 })).map((o) => o.join('.'));
const v6 = fc.oneof(fc.constantFrom('::', '::1', 'fd00::2', '2001:db8::1', 'fe80::1%eth0', '1:2:3:4:5:6:7:8', '1::2::3', ':::', 'ffff::ffff:1.2.3.4'), fc.ipV6());
const endpointValue = fc.oneof(
  fc.tuple(v4, fc.nat({ max: 70000 })).map(([a, p]) => `${a}:${p}`),
  fc.tuple(v6, fc.nat({ max: 70000 })).map(([a, p]) => `[${a}]:${p}`),
  v6,
  fc.constantFrom('example.com:51820', '[1.2.3.4]:5', '[::1]', '1.2.3.4', ':51820', '[::1]:', '[]:1', '[::1%]:1'),
  fc.string({ maxLength: 40 }),
);
const prefixValue = fc.oneof(
  fc.tuple(v4, fc.nat({ max: 40 })).map(([a, b]) => `${a}/${b}`),
  fc.tuple(v6, fc.nat({ max: 140 })).map(([a, b]) => `${a}/${b}`),
  v4,
  fc.constantFrom('0.0.0.0/0', '::/0', '10.0.0.0/08', '10.0.0.0/-1', '/24', '10.0.0.0/', '10.0.0.0/24/1'),
  fc.string({ maxLength: 40 }),
);
const boolValue = fc.oneof(fc.constantFrom('true', 'false', 'TRUE', '1', '', 'yes'), fc.string({ maxLength: 6 }));

const line: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...KEY_NAMES), keyValue).map(([k, v]) => `${k}=${v}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('listen_port', 'fwmark', 'persistent_keepalive_interval', 'protocol_version'), numberValue).map(([k, v]) => `${k}=${v}`) },
  { weight: 2, arbitrary: endpointValue.map((v) => `endpoint=${v}`) },
  { weight: 2, arbitrary: prefixValue.map((v) => `allowed_ip=${v}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('replace_peers', 'replace_allowed_ips', 'remove', 'update_only', 'wgmpls-label-auth'), boolValue).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
/** A transaction, often shaped like a real one: device lines, then public_key blocks. */
const body = fc.oneof(
  fc.array(line, { maxLength: 24 }),
  fc
    .tuple(fc.array(line, { maxLength: 3 }), fc.array(fc.tuple(hex(64), fc.array(line, { maxLength: 6 })), { maxLength: 4 }))
    .map(([dev, peers]) => [...dev, ...peers.flatMap(([k, ls]) => [`public_key=${k}`, ...ls])]),
);

/** The configuration of a device as text (formatGet), bigints and key bytes included. */
function configOf(n: Node): string {
  return formatGet(n.device.snapshot(), true);
}

export async function uapiTarget(): Promise<FuzzTarget<string[]>> {
  let net = new Net();
  let dev = await net.node('X', '192.0.2.9');
  let applied = 0;
  let refused = 0;
  let accepted = 0;

  async function check(lines: string[]): Promise<void> {
    let change;
    try {
      change = parseSet(lines);
    } catch (err) {
      expectThat(err instanceof UapiError, `parseSet threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      const e = err as UapiError;
      expectThat(e.errno === Errno.EINVAL || e.errno === Errno.EPROTO, `parseSet errno ${e.errno}`);
      for (const l of lines) {
        const eq = l.indexOf('=');
        const value = eq < 0 ? '' : l.slice(eq + 1);
        if (KEY_NAMES.includes(l.slice(0, Math.max(eq, 0))) && value.length >= 8) expectThat(!e.message.includes(value), `the error repeats a key's value: ${e.message}`);
      }
      refused++;
      return;
    }
    accepted++;
    const before = configOf(dev);
    try {
      await dev.device.apply(change);
    } catch (err) {
      expectThat(err instanceof UapiError, `apply threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      expectThat(configOf(dev) === before, `a refused apply changed the device: ${(err as Error).message}`);
      return;
    }
    applied++;
    // What the device now says, given back as a set (as `wg syncconf` does), must parse again.
    const get = configOf(dev);
    expectThat(get.endsWith('errno=0\n\n'), 'get answer without its trailer');
    const STATUS = /^(last_handshake_time_sec|last_handshake_time_nsec|tx_bytes|rx_bytes|errno)=/;
    const again = get.split('\n').filter((l) => l !== '' && !STATUS.test(l));
    try {
      parseSet(again);
    } catch (err) {
      expectThat(false, `the device's own configuration does not parse back: ${(err as Error).message}`);
    }
    // A device that took a change starts over, so that the inputs do not pile up peers.
    if (get !== before) {
      dev.device.close();
      net = new Net();
      dev = await net.node('X', '192.0.2.9');
    }
  }

  return {
    arbitrary: body,
    check,
    async: true,
    summary: () => `parseSet refused ${refused}, accepted ${accepted}; applied ${applied}`,
  };
}
