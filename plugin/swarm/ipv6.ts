// IPv6 on swarm-scope networks. Swarm (dockerd 20.10) allocates a container's IPv4 address on
// an attachable network centrally (unique across nodes) but not its IPv6 address: each node's
// own IPAM hands out the same ones (fd00::2 on every node; `--ip6` is dropped). So Docker's
// `--ipv6` is refused on a swarm wgmpls network, and the IPv6 prefix is the driver's option
// `wgmpls.ipv6=PREFIX/LEN` (LEN 64 to 96): each endpoint gets the prefix with its unique IPv4
// address in the low 32 bits (fd00:214::/64 and 10.214.0.12 give fd00:214::ad6:c), returned to
// Docker by CreateEndpoint, which then configures it in the container like its own.
import { isIP } from 'node:net';

/** The 16 bytes of an IPv6 address. */
function bytes6(a: string): number[] {
  const [head, tail = ''] = a.split('::');
  const part = (s: string): number[] => (s === '' ? [] : s.split(':')).flatMap((g) => {
    if (g.includes('.')) return g.split('.').map(Number);
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
  const h = part(head);
  const t = a.includes('::') ? part(tail) : [];
  return [...h, ...new Array<number>(16 - h.length - t.length).fill(0), ...t];
}

function text6(b: readonly number[]): string {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // The longest run of zero groups (2 or more) becomes "::".
  let best = -1;
  let len = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > len && j - i >= 2) {
      best = i;
      len = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`;
}

/** Checks a `wgmpls.ipv6` value; returns it normalised ("fd00:214::/64") or throws a message. */
export function parseIpv6Prefix(value: string): string {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(value);
  if (!m || isIP(m[1]) !== 6) throw new Error(`wgmpls.ipv6 must be an IPv6 prefix such as fd00:1::/64, got "${value}"`);
  const len = Number(m[2]);
  if (len < 64 || len > 96) throw new Error(`wgmpls.ipv6 must have a prefix length from 64 to 96 (each endpoint's IPv4 address fills the last 32 bits), got /${len}`);
  const b = bytes6(m[1]);
  for (let bit = len; bit < 128; bit++) b[bit >> 3] &= ~(0x80 >> (bit & 7));
  return `${text6(b)}/${len}`;
}

/** The endpoint's IPv6 address with prefix length, from the network's prefix and its IPv4 address ("10.0.0.2/24"). */
export function ipv6For(prefix: string, ipv4Cidr: string): string {
  const [p, len] = prefix.split('/');
  const b = bytes6(p);
  const v4 = ipv4Cidr.split('/')[0].split('.').map(Number);
  for (let i = 0; i < 4; i++) b[12 + i] = v4[i];
  return `${text6(b)}/${len}`;
}
