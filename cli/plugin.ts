// `wgmpls plugin` (the Docker network driver, foreground) and `wgmpls show` (its networks and
// endpoints with their WireGuard status), registered on the main program.
// The plugin's modules (express, dockerode...) are loaded only when these commands run: every
// datapath is started through the same CLI and must not pay ~160 ms for them.
import type { Command } from 'commander';
import { createLog } from '../datapath/log';
import { runInForeground } from './foreground';

export function registerPluginCommands(program: Command): void {
  program
    .command('plugin')
    .description('run the Docker network driver "wgmpls" in the foreground, on /run/docker/plugins/wgmpls.sock (state in /var/lib/wgmpls)')
    .action(async () => {
      const log = createLog('wgmpls-plugin');
      await runInForeground('wgmpls plugin', log, async () => {
        const { runPlugin } = await import('../plugin/main');
        return runPlugin(log);
      });
    });

  program
    .command('show')
    .description('list the wgmpls networks, endpoints, containers and peers with handshakes and transfer, like `wg show` with names')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { showAll } = await import('../plugin/show');
      const r = await showAll({ json: o.json === true });
      process.stdout.write(r.stdout);
      if (r.stderr) process.stderr.write(r.stderr);
      process.exitCode = r.code;
    });
}
