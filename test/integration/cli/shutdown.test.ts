/**
 * Clean shutdown and no orphans: `kanary controller` and `kanary ingress` as real processes, started
 * through bin/kanary.js with an older system Node first on PATH (it hands over to the bundled Node 24
 * in a child process) and with the bundled Node 24 directly. What a supervisor does to them (SIGTERM,
 * SIGKILL, a terminal's Ctrl-C) must end the process that runs kanary's code and its nginx, free the
 * ports, and report the exit status.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../../src/cluster/ports.ts';
import { testNamespace, waitUntil } from '../../support/cluster.ts';
import {
  alive,
  BUNDLED_NODE,
  children,
  exitWithin,
  type IngressProcess,
  KANARY_BIN,
  type KanaryProcess,
  killTree,
  proc,
  ROOT,
  SYSTEM_NODE,
  startControllerProcess,
  startIngressProcess,
  type Variant,
  waitAllGone,
  waitPortsFree,
  wrapperUnavailable,
} from '../../support/kanary-process.ts';
import { ensureRolloutCrd, KUBECONFIG } from './support.ts';

const noWrapper = wrapperUnavailable();
const VARIANTS: Variant[] = ['wrapper', 'direct'];
/** "within a few seconds": the bound every test waits for (the measured times are printed) */
const STOP_MS = 10_000;

const ports = (i: IngressProcess) => [i.httpPort, i.httpsPort, i.metricsPort];
const nginxOf = (i: IngressProcess) => [i.master, ...i.workers];

function report(t: { diagnostic(s: string): void }, what: string, ms: number) {
  t.diagnostic(`${what}: ${ms} ms`);
}

async function signalAndWait(k: KanaryProcess, signal: NodeJS.Signals) {
  const started = Date.now();
  process.kill(k.child.pid!, signal);
  const exit = await exitWithin(k, STOP_MS);
  return { exit, ms: Date.now() - started };
}

for (const variant of VARIANTS) {
  const skip = variant === 'wrapper' ? noWrapper : undefined;

  test(`kanary controller (${variant}): SIGTERM ends the real process, exit status 0`, {
    skip,
  }, async (t) => {
    await ensureRolloutCrd();
    const ns = await testNamespace(t, 'sig-ctl');
    const c = await startControllerProcess(t, variant, ns.name);
    const { exit, ms } = await signalAndWait(c, 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, c.logs.slice(-10).join('\n'));
    await waitAllGone([c.real], STOP_MS);
    report(t, 'SIGTERM → exit', ms);
  });

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    test(`kanary ingress (${variant}): ${signal} ends it and its nginx, exit status 0, ports free`, {
      skip,
    }, async (t) => {
      const ns = await testNamespace(t, 'sig-ing');
      const i = await startIngressProcess(t, variant, ns.name);
      const { exit, ms } = await signalAndWait(i, signal);
      assert.deepEqual(exit, { code: 0, signal: null }, i.logs.slice(-10).join('\n'));
      const gone = await waitAllGone([i.real, ...nginxOf(i)], STOP_MS);
      await waitPortsFree(ports(i), STOP_MS);
      report(t, `${signal} → exit`, ms);
      report(t, 'exit → nginx gone', gone);
    });
  }

  test(`kanary ingress (${variant}): SIGKILL leaves no nginx running and frees the ports`, {
    skip,
  }, async (t) => {
    const ns = await testNamespace(t, 'sig-kill');
    const i = await startIngressProcess(t, variant, ns.name);
    const started = Date.now();
    process.kill(i.child.pid!, 'SIGKILL');
    assert.deepEqual(await exitWithin(i, STOP_MS), { code: null, signal: 'SIGKILL' });
    await waitAllGone([i.real, ...nginxOf(i)], STOP_MS);
    await waitPortsFree(ports(i), STOP_MS);
    report(t, 'SIGKILL → real process, nginx master and workers gone, ports free', Date.now() - started);
  });
}

test('kanary controller (wrapper): SIGKILL of the wrapper ends the real process', {
  skip: noWrapper,
}, async (t) => {
  await ensureRolloutCrd();
  const ns = await testNamespace(t, 'sig-wkill');
  const c = await startControllerProcess(t, 'wrapper', ns.name);
  const started = Date.now();
  process.kill(c.child.pid!, 'SIGKILL');
  await waitAllGone([c.real], STOP_MS);
  report(t, 'SIGKILL of the wrapper → real process gone', Date.now() - started);
});

test('kanary controller (wrapper): a signal is passed on, and a death by signal is reported as one', {
  skip: noWrapper,
}, async (t) => {
  await ensureRolloutCrd();
  const ns = await testNamespace(t, 'sig-usr2');
  const c = await startControllerProcess(t, 'wrapper', ns.name);
  // Node's default for SIGUSR2 is to die of it: the real process must get it and the wrapper must
  // die of the same signal, as a shell's parent would see it
  const { exit } = await signalAndWait(c, 'SIGUSR2');
  assert.deepEqual(exit, { code: null, signal: 'SIGUSR2' });
  await waitAllGone([c.real], STOP_MS);
});

test('kanary ingress (direct, no setpriv on PATH): SIGKILL still leaves no nginx (nginx guards itself)', async (t) => {
  // a PATH with only nginx and openssl: no setpriv to start nginx under
  const bin = mkdtempSync(join(tmpdir(), 'kanary-nosetpriv-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  for (const tool of ['nginx', 'openssl']) {
    for (const dir of ['/usr/sbin', '/usr/bin']) {
      try {
        symlinkSync(join(dir, tool), join(bin, tool));
        break;
      } catch {
        /* not there */
      }
    }
  }
  const ns = await testNamespace(t, 'sig-nosp');
  const i = await startIngressProcess(t, 'direct', ns.name, { ...process.env, PATH: bin });
  assert.ok(!i.master.cmdline.includes('setpriv'));
  const started = Date.now();
  process.kill(i.real.pid, 'SIGKILL');
  await waitAllGone([i.real, ...nginxOf(i)], STOP_MS);
  await waitPortsFree(ports(i), STOP_MS);
  report(t, 'SIGKILL → nginx gone, ports free', Date.now() - started);
});

test('kanary ingress (direct): SIGKILL of it and its nginx master together leaves no worker', async (t) => {
  const ns = await testNamespace(t, 'sig-both');
  const i = await startIngressProcess(t, 'direct', ns.name);
  const started = Date.now();
  // as the OOM killer or `kill -9` of a whole process tree would: nobody is left to stop the workers
  process.kill(i.master.pid, 'SIGKILL');
  process.kill(i.real.pid, 'SIGKILL');
  await waitAllGone([i.real, ...nginxOf(i)], STOP_MS);
  await waitPortsFree(ports(i), STOP_MS);
  report(t, 'SIGKILL of both → workers gone, ports free', Date.now() - started);
});

/**
 * Ctrl-C on a terminal: the terminal sends SIGINT to its whole foreground process group, the wrapper
 * and the real process alike. The real process must see it once: a second SIGINT during its shutdown
 * would end it at once (death by SIGINT) instead of the clean stop (exit 0).
 */
for (const command of ['controller', 'ingress'] as const) {
  test(`kanary ${command} (wrapper) on a terminal: Ctrl-C stops it cleanly, exit status 0`, {
    skip: noWrapper,
  }, async (t) => {
    await ensureRolloutCrd();
    const ns = await testNamespace(t, `sig-tty-${command.slice(0, 3)}`);
    const port = await freePort();
    const stateDir = mkdtempSync(join(tmpdir(), 'kanary-shutdown-'));
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    const args =
      command === 'controller'
        ? ['controller', '--kubeconfig', KUBECONFIG, '--namespace', ns.name, '--health-port', String(port)]
        : [
            'ingress',
            '--kubeconfig',
            KUBECONFIG,
            '--namespace',
            ns.name,
            '--http-port',
            String(await freePort()),
            '--https-port',
            String(await freePort()),
            '--metrics-port',
            String(port),
            '--state-dir',
            stateDir,
            '--worker-processes',
            '1',
          ];
    // in the terminal: a parent that ignores Ctrl-C itself, runs kanary as a shell would, and prints
    // how kanary ended
    const parent = `
      process.on('SIGINT', () => {});
      const c = require('node:child_process').spawn(${JSON.stringify(KANARY_BIN)}, ${JSON.stringify(args)}, {
        stdio: 'inherit', env: { ...process.env, PATH: '/usr/bin:' + process.env.PATH } });
      console.log('wrapper pid ' + c.pid);
      c.on('exit', (code, signal) => { console.log('kanary ended: ' + JSON.stringify({ code, signal })); process.exit(0); });`;
    const tty = spawn('script', ['-q', '-e', '-c', `${BUNDLED_NODE} -e ${shellQuote(parent)}`, '/dev/null'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    tty.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    tty.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const ttyExited = new Promise<void>((r) => tty.once('exit', () => r()));
    t.after(async () => {
      if (tty.exitCode === null) tty.kill('SIGKILL');
      await ttyExited;
    });
    const wrapperPid = Number(
      await waitUntil('the wrapper pid', async () => /wrapper pid (\d+)/.exec(out)?.[1], 10_000, 20),
    );
    const wrapper = proc(wrapperPid)!;
    const real = await waitUntil(
      'the real process',
      async () => children(wrapperPid).find((p) => p.cmdline.includes('kanary.js')),
      10_000,
      20,
    );
    t.after(() => killTree([wrapper, real]));
    const path = command === 'controller' ? '/readyz' : '/healthz';
    await waitUntil(
      `kanary ${command} ready`,
      async () => (await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined))?.ok,
      60_000,
      100,
    );
    const nginx = command === 'ingress' ? children(real.pid).flatMap((m) => [m, ...children(m.pid)]) : [];
    tty.stdin.write('\x03'); // Ctrl-C, typed on the terminal
    const ended = await waitUntil(
      'kanary to end after Ctrl-C',
      async () => /kanary ended: (\{.*\})/.exec(out)?.[1],
      STOP_MS,
      20,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nterminal:\n${out.slice(-2000)}`);
    });
    assert.deepEqual(JSON.parse(ended), { code: 0, signal: null }, out.slice(-2000));
    if (command === 'ingress') {
      // nginx is kanary's to stop, with a drain (SIGQUIT): the terminal's SIGINT (nginx's fast
      // shutdown) must not reach it behind kanary's back
      const log = readFileSync(join(stateDir, 'logs', 'error.log'), 'utf8');
      assert.doesNotMatch(log, /signal 2 \(SIGINT\) received/, log);
      assert.match(log, /signal 3 \(SIGQUIT\) received/, log);
    }
    await waitAllGone([real, ...nginx], STOP_MS);
    assert.ok(!alive(wrapper));
  });
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

test('kanary controller (wrapper, no setpriv on PATH): SIGKILL of the wrapper still ends the real process', {
  skip: noWrapper,
}, async (t) => {
  await ensureRolloutCrd();
  const ns = await testNamespace(t, 'sig-wpoll');
  const empty = mkdtempSync(join(tmpdir(), 'kanary-nosetpriv-'));
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  // the system Node runs bin/kanary.js itself; nothing on PATH, so no setpriv: the child watches
  const healthPort = await freePort();
  const wrapper = spawn(
    SYSTEM_NODE,
    [
      KANARY_BIN,
      'controller',
      '--kubeconfig',
      KUBECONFIG,
      '--namespace',
      ns.name,
      '--health-port',
      String(healthPort),
    ],
    { cwd: ROOT, stdio: 'ignore', env: { ...process.env, PATH: empty } },
  );
  const self = proc(wrapper.pid!)!;
  const real = await waitUntil(
    'the real process',
    async () => children(self.pid).find((p) => p.cmdline.includes('kanary.js')),
    10_000,
    20,
  );
  t.after(() => killTree([self, real]));
  assert.ok(real.cmdline.startsWith(BUNDLED_NODE), real.cmdline);
  await waitUntil(
    'controller ready',
    async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.ok,
    60_000,
    100,
  );
  const started = Date.now();
  process.kill(self.pid, 'SIGKILL');
  await waitAllGone([real], STOP_MS);
  report(t, 'SIGKILL of the wrapper → real process gone', Date.now() - started);
});
