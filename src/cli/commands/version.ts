import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { controlPlaneVersions } from '../../cluster/paths.ts';

export function kanaryVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function registerVersionCommand(program: Command): void {
  program.version(kanaryVersion(), '--version', 'print the Kanary version');
  program
    .command('version')
    .description('print the Kanary version and the versions of the local control plane it builds')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .action((opts: { output: string }) => {
      const info = { kanary: kanaryVersion(), node: process.version, localCluster: controlPlaneVersions() };
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `kanary ${info.kanary} (node ${info.node})\n` +
          `local cluster: kubernetes ${info.localCluster.kubernetes}, etcd ${info.localCluster.etcd}, kwok ${info.localCluster.kwok}\n`,
      );
    });
}
