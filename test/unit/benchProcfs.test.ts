// bench/procfs.ts: the /proc texts the benchmark reads, parsed.
import { readFileSync } from 'node:fs';
import { parseStatTicks, parseStatusKiB, parseTcpOutSegs } from '../../bench/procfs';

describe('/proc parsing', () => {
  test('utime + stime from /proc/<pid>/stat, a comm with spaces and parentheses included', () => {
    const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '1234', '567', '0', '0', '20', '0', '3'];
    expect(parseStatTicks(`4242 (node (x) y) ${fields.join(' ')}`)).toBe(1234 + 567);
    expect(parseStatTicks(readFileSync('/proc/self/stat', 'utf8'))).toBeGreaterThanOrEqual(0);
  });

  test('VmRSS and VmHWM in KiB', () => {
    const status = 'Name:\tnode\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\nThreads:\t11\n';
    expect(parseStatusKiB(status, 'VmRSS')).toBe(70000);
    expect(parseStatusKiB(status, 'VmHWM')).toBe(81234);
    expect(parseStatusKiB('Name:\tkthread\n', 'VmRSS')).toBeNull();
  });

  test('Tcp OutSegs by its column name, not its position', () => {
    const snmp = [
      'Ip: Forwarding DefaultTTL',
      'Ip: 1 64',
      'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
      'Tcp: 1 200 120000 -1 423 5 3 1 0 164677 133903 0 0 777 0',
      'Udp: InDatagrams',
      'Udp: 5',
    ].join('\n');
    expect(parseTcpOutSegs(snmp)).toBe(133903);
    expect(parseTcpOutSegs(snmp.replace('InSegs OutSegs', 'OutSegs InSegs'))).toBe(164677);
    expect(parseTcpOutSegs('Ip: a\nIp: 1\n')).toBeNull();
  });
});
