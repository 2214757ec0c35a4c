// `wg set fwmark`: the device hands the mark to its underlay when it changes (the underlay marks
// the sockets, now and after a rebind: test/unit/udp.test.ts, test/net/parity.test.ts), shows
// it only once applied, and a refusal is a UAPI error that changes nothing.
import { Device } from '../../datapath/device/device';
import { UapiError } from '../../datapath/device/config';

function device(refuse = false): { dev: Device; marks: number[] } {
  const marks: number[] = [];
  const dev = new Device({
    sendUdp: () => undefined,
    writeTun: () => undefined,
    bind: (port) => Promise.resolve(port === 0 ? 40000 : port),
    setMark: (mark) => {
      if (refuse) throw new UapiError(1, 'fwmark: Operation not permitted');
      marks.push(mark);
    },
  });
  return { dev, marks };
}

describe('fwmark', () => {
  test('applied on change only, 0 included; shown as applied', async () => {
    const { dev, marks } = device();
    await dev.apply({ fwmark: 51820, replacePeers: false, peers: [] });
    await dev.apply({ fwmark: 51820, listenPort: 51821, replacePeers: false, peers: [] });
    expect(marks).toEqual([51820]);
    expect(dev.snapshot().fwmark).toBe(51820);
    await dev.apply({ fwmark: 0, replacePeers: false, peers: [] });
    expect(marks).toEqual([51820, 0]);
    expect(dev.snapshot().fwmark).toBe(0);
  });

  test('refused by the underlay: the error reaches wg and the shown mark stays', async () => {
    const { dev } = device(true);
    await expect(dev.apply({ fwmark: 7, replacePeers: false, peers: [] })).rejects.toMatchObject({ errno: 1 });
    expect(dev.snapshot().fwmark).toBe(0);
    await expect(dev.apply({ fwmark: 7, replacePeers: false, peers: [] })).rejects.toBeInstanceOf(UapiError);
  });
});
