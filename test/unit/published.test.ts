// `docker run -p` on a wgmpls network is refused with a message naming the bindings and the way
// out (plugin/driver/published.ts), instead of answering success while nothing is published.
import { DriverError } from '../../plugin/api/errors';
import { PORTMAP_OPTION, refusePublishedPorts } from '../../plugin/driver/published';

describe('published ports', () => {
  test('refused, naming each binding (as dockerd sends them: libnetwork types.PortBinding)', () => {
    const options = {
      [PORTMAP_OPTION]: [
        { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 },
        { Proto: 17, IP: '', Port: 53, HostIP: '127.0.0.1', HostPort: 5353, HostPortEnd: 5353 },
        { Proto: 6, IP: '', Port: 443, HostIP: '', HostPort: 0, HostPortEnd: 0 }, // -P: any host port
      ],
      'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }],
    };
    let err: unknown;
    try {
      refusePublishedPorts(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DriverError);
    const msg = (err as Error).message;
    expect(msg).toContain('wgmpls networks cannot publish ports (8080->80/tcp, 127.0.0.1:5353->53/udp, (any)->443/tcp)');
    expect(msg).toContain('docker network connect NETWORK C');
  });

  test('nothing to refuse: no options, no port map, an empty one, only exposed ports', () => {
    expect(() => refusePublishedPorts(undefined)).not.toThrow();
    expect(() => refusePublishedPorts(null)).not.toThrow();
    expect(() => refusePublishedPorts({})).not.toThrow();
    expect(() => refusePublishedPorts({ [PORTMAP_OPTION]: [] })).not.toThrow();
    expect(() => refusePublishedPorts({ [PORTMAP_OPTION]: null })).not.toThrow();
    expect(() => refusePublishedPorts({ 'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }] })).not.toThrow();
  });

  test('many bindings are cut short', () => {
    const map = Array.from({ length: 9 }, (_, i) => ({ Proto: 6, Port: 1000 + i, HostPort: 2000 + i }));
    expect(() => refusePublishedPorts({ [PORTMAP_OPTION]: map })).toThrow(/2003->1003\/tcp, \.\.\.\)/);
  });
});
