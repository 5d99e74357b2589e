#!/usr/bin/env node
// Entry point of the `kanary` (and `kubectl-kanary`) executable. Kanary runs its
// TypeScript sources directly through Node's type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `kanary needs Node.js >= 22.18 (24 LTS recommended); this is ${process.version}.\n` +
      'Run it through npm (`npm run kanary -- ...`), which uses the Node 24 installed by `npm install`.\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
