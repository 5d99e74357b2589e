#!/usr/bin/env node
// Entry point of the `kanary` (and `kubectl-kanary`) executable. Kanary runs its
// TypeScript sources directly through Node's type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  // Run as `kanary` or `kubectl kanary` from a checkout whose PATH has an older
  // Node first: hand over to the Node 24 that `npm install` put in node_modules.
  const { existsSync, realpathSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const bundled = join(dirname(realpathSync(process.argv[1])), '..', 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bundled) && realpathSync(bundled) !== realpathSync(process.execPath)) {
    // it runs as our child; signals, exit status and our death are passed on (see handover.js)
    const { runBundled } = await import('./handover.js');
    runBundled(bundled, process.argv.slice(1));
    await new Promise(() => undefined); // until the child ends: runBundled exits
  }
  process.stderr.write(
    `kanary needs Node.js >= 22.18 (24 LTS recommended); this is ${process.version}.\n` +
      'Run it through npm (`npm run kanary -- ...`), which uses the Node 24 installed by `npm install`.\n',
  );
  process.exit(1);
}
// Started by the wrapper above: end with it, even when it was SIGKILLed (see handover.js)
const wrapperPid = Number(process.env.KANARY_WRAPPER_PID);
if (wrapperPid) {
  const { watchWrapper } = await import('./handover.js');
  watchWrapper(wrapperPid, process.env.KANARY_WRAPPER_POLL === '1');
}
// The Rollout controller runs for weeks under a memory budget (docs/benchmarks.md, "Rollout
// controller"). V8 sizes its young generation for the machine (up to 2 × 32 MB of semi-spaces on a
// large one), which is most of the controller's heap; 8 MB semi-spaces keep RSS about 50 MB lower
// for ~2% of a core in extra scavenges while 50 rollouts progress. Two glibc malloc arenas instead
// of one per thread save another ~8 MB at no measurable CPU cost. Both are read only at start
// (v8.setFlagsFromString has no effect), so the controller re-executes itself with them: execve
// keeps the PID, so signals, exit codes and process supervisors see one process. A
// --max-semi-space-size given by the user (node flag or NODE_OPTIONS) means they tune it
// themselves: no re-exec then.
const SEMI_SPACE_FLAG = '--max-semi-space-size';
if (
  process.argv[2] === 'controller' &&
  typeof process.execve === 'function' &&
  process.platform !== 'win32' &&
  ![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) =>
    a.startsWith(SEMI_SPACE_FLAG),
  )
) {
  try {
    process.execve(
      process.execPath,
      [process.execPath, `${SEMI_SPACE_FLAG}=8`, ...process.execArgv, ...process.argv.slice(1)],
      { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
    );
  } catch {
    // could not re-execute (e.g. a sandbox forbids execve): run with V8's defaults
  }
}
// kept through the re-exec above, which watches again; not for the processes kanary starts
delete process.env.KANARY_WRAPPER_PID;
delete process.env.KANARY_WRAPPER_POLL;
// A checkout runs the TypeScript sources. An installed build (the container image) ships src/
// compiled to JavaScript instead, which needs no type stripping at run time: about 25 MB less RSS
// for a long-running controller (docs/benchmarks.md, "Container image").
const { existsSync } = await import('node:fs');
const sources = new URL('../src/cli/main.ts', import.meta.url);
const { main } = await import(existsSync(sources) ? sources.href : '../src/cli/main.js');
await main(process.argv);
