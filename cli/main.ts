#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { isIP } from 'node:net';
import { startDatapaths } from '../datapath/run';
import { createLog } from '../datapath/log';
import { Timing, parseTestTiming } from '../datapath/device/constants';
import { runInForeground } from './foreground';
import { ownNamespace, runIp, runIpInContainer, runSysctl } from './ip';
import { registerLabCommands } from './lab';
import { LSR_MODES, LsrMode } from '../datapath/lsr/model';

function lsrOption(value: string): LsrMode {
  const mode = LSR_MODES.find((m) => m === value);
  if (!mode) throw new InvalidArgumentError(`--lsr must be ${LSR_MODES.join(', ')}, got "${value}"`);
  return mode;
}
import { registerPluginCommands } from './plugin';

function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** A command's outcome, as the shell sees it: its output and its exit status. */
function finish(r: { code: number; stdout: string; stderr: string }): void {
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code;
}

const program = new Command();
program.name('wgmpls').description('Encrypted MPLS links between containers (WireGuard-MPLS)').enablePositionalOptions();

program
  .command('datapath')
  .description('run a WireGuard-MPLS device on TUN <ifname> in the foreground (a drop-in for `wireguard-go -f`); configure it with `wg`. Several names: one device each, in one process, so that a label-switching router hands frames between its interfaces by a function call')
  .argument('<ifname...>', 'interface names (at most 15 characters each)')
  .option('-f, --foreground', 'accepted for wireguard-go compatibility; the datapath always runs in the foreground')
  .option('--mtu <bytes>', 'MTU of the TUN device', intOption('--mtu', 576, 65535), 1420)
  .option('--netns <path>', 'create the TUN inside this network namespace (e.g. /var/run/netns/NAME)')
  .option('--listen-address <addr>', 'bind the UDP underlay to this local address only')
  .option('--no-offload', 'no TUN offloads (TSO/GRO): one packet per read and write, as a kernel without them gives')
  .option('--mpls-peers <who>', "who may send MPLS (types 5/6): 'seed' (the peer holding 0.0.0.0, else ::) or 'any'", (v: string) => {
    if (v !== 'seed' && v !== 'any') throw new InvalidArgumentError("must be 'seed' or 'any'");
    return v;
  }, 'seed')
  // Hidden: for tests only. An option, never an environment variable, so that nothing a
  // production datapath inherits (the plugin's environment) can shorten its timers.
  .addOption(
    new Option('--test-timing <json>', 'TESTS ONLY: shortened protocol timers, e.g. {"rekeyAfterTime":3000}')
      .hideHelp()
      .argParser((v: string): Timing => {
        try {
          return parseTestTiming(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      }),
  )
  .action(async (ifnames: string[], o: { mtu: number; netns?: string; listenAddress?: string; offload: boolean; mplsPeers: 'seed' | 'any'; testTiming?: Timing }) => {
    for (const ifname of ifnames) {
      if (!/^[A-Za-z0-9_.=-]{1,15}$/.test(ifname)) {
        program.error(`error: interface name "${ifname}" is invalid (1-15 characters of letters, digits, _ . = -)`);
      }
    }
    const twice = ifnames.find((n, i) => ifnames.indexOf(n) !== i);
    if (twice !== undefined) program.error(`error: interface name "${twice}" is given twice`);
    if (o.listenAddress !== undefined && isIP(o.listenAddress) === 0) program.error(`error: --listen-address ${o.listenAddress} is not an IP address`);
    const log = createLog('wgmpls-datapath');
    await runInForeground(`wgmpls datapath ${ifnames.join(' ')}`, log, () =>
      startDatapaths(ifnames, (ifname, first) => ({
        ifname, mtu: o.mtu, netnsPath: o.netns, listenAddress: o.listenAddress, offload: o.offload, mplsPeers: o.mplsPeers, testTiming: o.testTiming, log,
        // The JIT is warmed once per process: V8's compiled code serves every device in it.
        warmUp: first,
      })),
    );
  });

program
  .command('worker')
  .description("host many endpoints' datapaths in one process, controlled by the plugin over a unix socket (started by `wgmpls plugin`)")
  .requiredOption('--control <path>', 'the control socket to listen on')
  .option('--mtu <bytes>', 'MTU of the warm-up devices (the live ones get theirs from the plugin)', intOption('--mtu', 576, 65535), 1420)
  .option('--listen-address <addr>', 'underlay address of the warm-up devices', '127.0.0.1')
  .option('--mpls-peers <who>', "MPLS rule of the warm-up devices: 'seed' or 'any'", (v: string) => {
    if (v !== 'seed' && v !== 'any') throw new InvalidArgumentError("must be 'seed' or 'any'");
    return v;
  }, 'any')
  .option('--defer-warm-up', 'warm up only when asked (a worker putting crashed endpoints back serves them first)')
  .addOption(
    new Option('--test-timing <json>', 'TESTS ONLY: shortened protocol timers').hideHelp().argParser((v: string): Timing => {
      try {
        return parseTestTiming(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    }),
  )
  .action(async (o: { control: string; mtu: number; listenAddress: string; mplsPeers: 'seed' | 'any'; deferWarmUp?: boolean; testTiming?: Timing }) => {
    if (isIP(o.listenAddress) === 0) program.error(`error: --listen-address ${o.listenAddress} is not an IP address`);
    const log = createLog('wgmpls-worker');
    const { runWorker } = await import('../datapath/worker/main');
    await runInForeground('wgmpls worker', log, () =>
      runWorker({ control: o.control, warmUp: { mtu: o.mtu, listenAddress: o.listenAddress, mplsPeers: o.mplsPeers }, deferWarmUp: o.deferWarmUp === true, testTiming: o.testTiming, log }),
    );
  });

program
  .command('showconf')
  .description('print the configuration of datapath <ifname> as `wg showconf` does, with the wgmpls extension keys (WgmplsLabelAuth)')
  .argument('<ifname>', 'interface name')
  .action(async (ifname: string) => {
    const { showconf } = await import('./showconf');
    finish(await showconf(ifname));
  });

program
  .command('stats')
  .description('show datapath <ifname> as `wg show` does, with the wgmpls counters: drops by reason, events, label switching (UAPI wgmpls-stats=1)')
  .argument('<ifname>', 'interface name')
  .action(async (ifname: string) => {
    const { stats } = await import('./stats');
    finish(await stats(ifname));
  });

program
  .command('ip')
  .description("MPLS routes of this namespace's label-switching router, in iproute2's syntax: wgmpls ip -f mpls route add 101 as 102 via inet 10.0.34.2 dev wgm1")
  .helpOption(false)
  .allowUnknownOption()
  .passThroughOptions()
  .option('--container <name|id>', "work on this Docker container's namespace (run on the host), e.g. wgmpls ip --container r1 -f mpls route show")
  .option('--lsr <mode>', 'who switches labels: kernel (netlink routes), userspace (the datapaths) or auto (kernel where the namespace has net.mpls.platform_labels)', lsrOption)
  .argument('[args...]', 'what you would give `ip`')
  .action(async (args: string[], o: { container?: string; lsr?: LsrMode }) => {
    // Commander only sees them in front; later they would reach the route parser as a label or prefix.
    for (const flag of ['--container', '--lsr']) {
      if (args.some((a) => a === flag || a.startsWith(`${flag}=`))) {
        program.error(`error: wgmpls ip: ${flag} must come before the ip arguments (wgmpls ip ${flag} ... -f mpls route show)`);
      }
    }
    finish(o.container !== undefined ? await runIpInContainer(o.container, args, o.lsr) : await runIp(args, o.lsr ? { ...ownNamespace(), lsr: o.lsr } : undefined));
  });

program
  .command('sysctl')
  .description('LSR settings of this namespace, as sysctl: wgmpls sysctl -w net.mpls.ip_ttl_propagate=0 (also default_ttl, inet_map_prec, icmp_respond, icmp_ratelimit, rfc4182)')
  .helpOption(false)
  .allowUnknownOption()
  .passThroughOptions()
  .argument('[args...]', 'what you would give sysctl')
  .action((args: string[]) => {
    finish(runSysctl(args));
  });

registerPluginCommands(program);
registerLabCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`wgmpls: ${(err as Error).message}\n`);
  process.exit(1);
});
