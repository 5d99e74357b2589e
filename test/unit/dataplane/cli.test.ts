import assert from 'node:assert/strict';
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
    [['--worker-processes', 'many'], /--worker-processes/],
    [['--annotations-prefix', 'bad prefix!'], /not a valid annotation prefix/],
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
