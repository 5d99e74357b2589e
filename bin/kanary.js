#!/usr/bin/env node
// Entry point of the `kanary` (and `kubectl-kanary`) executable. Kanary runs its
// TypeScript sources directly through Node's type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  // Run as `kanary` or `kubectl kanary` from a checkout whose PATH has an older
  // Node first: hand over to the Node 24 that `npm install` put in node_modules.
  const { existsSync, realpathSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const { dirname, join } = await import('node:path');
  const bundled = join(dirname(realpathSync(process.argv[1])), '..', 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bundled) && realpathSync(bundled) !== realpathSync(process.execPath)) {
    // Ctrl-C reaches both processes; this one waits for the child to finish cleaning up
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => {});
    const res = spawnSync(bundled, process.argv.slice(1), { stdio: 'inherit' });
    process.exit(res.status ?? (res.signal === 'SIGINT' ? 130 : 1));
  }
  process.stderr.write(
    `kanary needs Node.js >= 22.18 (24 LTS recommended); this is ${process.version}.\n` +
      'Run it through npm (`npm run kanary -- ...`), which uses the Node 24 installed by `npm install`.\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
