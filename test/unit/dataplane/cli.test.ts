import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src/cli/errors.ts';
import { buildProgram } from '../../../src/cli/main.ts';

async function run(...args: string[]): Promise<unknown> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  try {
    await program.parseAsync(['node', 'kanary', ...args]);
    return undefined;
  } catch (err) {
    return err;
  }
}

test('kanary ingress: every flag of the issue is there, with its default', () => {
  const cmd = buildProgram().commands.find((c) => c.name() === 'ingress');
  assert.ok(cmd, 'ingress command registered');
  const defaults = Object.fromEntries(cmd.options.map((o) => [o.long, o.defaultValue]));
  assert.deepEqual(
    {
      '--ingress-class': defaults['--ingress-class'],
      '--bind-address': defaults['--bind-address'],
      '--http-port': defaults['--http-port'],
      '--https-port': defaults['--https-port'],
      '--annotations-prefix': defaults['--annotations-prefix'],
    },
    {
      '--ingress-class': 'nginx',
      '--bind-address': '127.0.0.1',
      '--http-port': '80',
      '--https-port': '443',
      '--annotations-prefix': 'nginx.ingress.kubernetes.io',
    },
  );
  // ingress-nginx's worker-shutdown-timeout default; about its --sync-rate-limit 0.3/s
  assert.equal(defaults['--worker-shutdown-timeout'], '240s');
  assert.equal(defaults['--min-reload-interval'], '3s');
  for (const flag of [
    '--kubeconfig',
    '--context',
    '--namespace',
    '--metrics-port',
    '--nginx-binary',
    '--state-dir',
  ]) {
    assert.ok(flag in defaults, flag);
  }
});

test('kanary ingress: bad flags are clear user errors, before any connection is made', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--http-port', '99999'], /--http-port must be a port number/],
    [['--https-port', 'abc'], /--https-port must be a port number/],
    [['--metrics-port', '-1'], /--metrics-port must be a port number/],
    [['--metrics-address', 'everywhere'], /--metrics-address must be an IP address/],
    [['--worker-processes', 'many'], /--worker-processes/],
    [['--annotations-prefix', 'bad prefix!'], /not a valid annotation prefix/],
    [['--worker-shutdown-timeout', 'soon'], /--worker-shutdown-timeout must be a duration/],
    [['--worker-shutdown-timeout', '0'], /--worker-shutdown-timeout must be a duration/],
    [['--min-reload-interval', '-1s'], /--min-reload-interval must be a duration/],
    [['--min-reload-interval', '2h'], /--min-reload-interval must be a duration/],
    [['--max-metric-series', '0'], /--max-metric-series must be a positive number/],
    [['--max-metric-series', 'lots'], /--max-metric-series must be a positive number/],
    [
      ['--publish-service', 'kanary-ingress'],
      /--publish-service: expected namespace\/name of a Service, got 'kanary-ingress'/,
    ],
    [['--publish-service', 'ns/Bad_Name'], /--publish-service: expected namespace\/name/],
    [
      ['--publish-service', 'ns/svc', '--publish-address', '10.0.0.1'],
      /--publish-address and --publish-service exclude each other/,
    ],
  ];
  for (const [args, message] of cases) {
    await t.test(args.join(' '), async () => {
      const err = await run('ingress', '--kubeconfig', '/nonexistent/kubeconfig', ...args);
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, message);
    });
  }
  await t.test('an unreadable kubeconfig', async () => {
    const err = await run('ingress', '--kubeconfig', '/nonexistent/kubeconfig');
    assert.ok(err instanceof UserError);
    assert.match(err.message, /cannot load kubeconfig/);
  });
});

test('kanary ingress: a state dir nginx workers cannot reach is a user error naming it, before any connection', {
  skip: process.getuid?.() !== 0 && 'only root starts nginx with unprivileged workers',
}, async () => {
  const root = mkdtempSync(join(tmpdir(), 'kanary-cli-private-')); // mode 0700
  try {
    const kubeconfig = join(root, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const err = await run('ingress', '--kubeconfig', kubeconfig, '--state-dir', join(root, 'state'));
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, new RegExp(`cannot reach the state directory .*: ${root} is mode 0700`));
    assert.equal(err.hint, undefined, 'the message says what to do; no hint about ports');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('kanary ingress --metrics-source and --access-log: defaults and refusals', async () => {
  const cmd = buildProgram().commands.find((c) => c.name() === 'ingress')!;
  const defaults = Object.fromEntries(cmd.options.map((o) => [o.long, o.defaultValue]));
  assert.equal(defaults['--metrics-source'], 'log');
  assert.equal(defaults['--access-log'], 'json');
  const cases: [string[], RegExp][] = [
    [['--metrics-source', 'prometheus'], /--metrics-source must be log or nginx, got "prometheus"/],
    [['--access-log', 'combined'], /--access-log must be json, default or off, got "combined"/],
    [['--access-log', 'off'], /--access-log off needs --metrics-source nginx/],
  ];
  for (const [args, message] of cases) {
    const err = await run('ingress', ...args);
    assert.ok(err instanceof UserError, `${args.join(' ')}: ${String(err)}`);
    assert.match(err.message, message);
  }
});
