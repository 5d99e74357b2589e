/** Errors a user can act on, produced against the live cluster. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { testKubeConfig, testNamespace } from '../../support/cluster.ts';
import { Api, canaryRollout, ensureRolloutCrd, kanary, pausedAtStepStatus } from './support.ts';

before(ensureRolloutCrd);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A kubeconfig for the test cluster that authenticates with `token`, or points at `server`. */
function kubeconfigFile(
  dir: string,
  opts: { token?: string; server?: string; namespace?: string; contextName?: string },
): string {
  mkdirSync(dir, { recursive: true });
  const context = opts.contextName ?? 'ctx';
  const kc = testKubeConfig();
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  assert.ok(cluster && user);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: `c-${context}`,
        cluster: {
          server: opts.server ?? cluster.server,
          ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
          ...(cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}),
          ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: `u-${context}`, user: { token: opts.token ?? user.token } }],
    contexts: [
      {
        name: context,
        context: {
          cluster: `c-${context}`,
          user: `u-${context}`,
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
        },
      },
    ],
    'current-context': context,
  };
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, stringify(doc));
  return path;
}

describe('errors a user can act on', () => {
  it('an unknown rollout suggests close names', async (t) => {
    const ns = await testNamespace(t, 'clierr');
    const api = new Api(ns.name);
    for (const name of ['checkout', 'checkout-canary', 'payments'])
      await api.create(canaryRollout(name, ns.name));
    const res = await kanary(['get', 'rollout', 'chekout', '-n', ns.name]);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.equal(
      res.stderr,
      `error: rollout "chekout" not found in namespace "${ns.name}"\nhint: did you mean "checkout"?\n`,
    );
    const promote = await kanary(['promote', 'paymnts', '-n', ns.name]);
    assert.match(promote.stderr, /hint: did you mean "payments"\?/);
  });

  it('RBAC: names the verb and resource that were refused', async (t) => {
    const ns = await testNamespace(t, 'clirbac');
    const api = new Api(ns.name);
    await api.createWithStatus(canaryRollout('web', ns.name), pausedAtStepStatus());
    const c = api.client;
    const base = `/api/v1/namespaces/${ns.name}`;
    const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.name}`;
    await c.create(`${base}/serviceaccounts`, { metadata: { name: 'viewer' } });
    await c.create(`${rbac}/roles`, {
      metadata: { name: 'rollout-viewer' },
      rules: [{ apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['get', 'list', 'watch'] }],
    });
    await c.create(`${rbac}/rolebindings`, {
      metadata: { name: 'viewer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rollout-viewer' },
      subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns.name }],
    });
    const tokenRequest = await c.create<{ status: { token: string } }>(
      `${base}/serviceaccounts/viewer/token`,
      {
        spec: { expirationSeconds: 600 },
      },
    );
    const kubeconfig = kubeconfigFile(tempDir(t), { token: tokenRequest.status.token, namespace: ns.name });

    // reading works (and the namespace comes from the context)...
    const status = await kanary(['status', 'web', '--watch=false'], { kubeconfig });
    assert.equal(status.stdout, 'Paused - CanaryPauseStep\n');
    // ...changing does not, and the error says exactly which permission is missing
    const res = await kanary(['promote', 'web'], { kubeconfig });
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      new RegExp(
        `^error: forbidden: you may not patch rollouts/status \\(argoproj.io\\) in namespace "${ns.name}"\n`,
      ),
    );
    assert.match(res.stderr, /hint: ask for an RBAC Role granting "patch" on "rollouts\/status"/);
    const pause = await kanary(['pause', 'web'], { kubeconfig });
    assert.match(pause.stderr, /you may not patch rollouts \(argoproj.io\)/);
  });

  it('no cluster reachable: says which server and context', async (t) => {
    const kubeconfig = kubeconfigFile(tempDir(t), { server: 'https://127.0.0.1:1' });
    const res = await kanary(['list', 'rollouts'], { kubeconfig });
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      'error: cannot reach the Kubernetes API server at https://127.0.0.1:1 (ECONNREFUSED)\n' +
        'hint: is the cluster running? check --kubeconfig and --context (context "ctx")\n',
    );
  });

  it('an unknown context lists the known ones', async () => {
    const res = await kanary(['list', 'rollouts', '--context', 'nope']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^error: context "nope" not found in kubeconfig\nhint: known contexts: /);
  });

  it('KUBECONFIG is honoured when --kubeconfig is not given', async (t) => {
    const kubeconfig = kubeconfigFile(tempDir(t), { server: 'https://127.0.0.1:1' });
    const res = await kanary(['list', 'rollouts'], { kubeconfig: null, env: { KUBECONFIG: kubeconfig } });
    assert.match(res.stderr, /cannot reach the Kubernetes API server at https:\/\/127.0.0.1:1/);
  });

  it('--context picks a context from a merged KUBECONFIG, with its namespace', async (t) => {
    const ns = await testNamespace(t, 'clictx');
    await new Api(ns.name).createWithStatus(canaryRollout('web', ns.name), pausedAtStepStatus());
    const dir = tempDir(t);
    // the current context of the first file points nowhere; the second file has the real cluster
    const broken = kubeconfigFile(join(dir, 'a'), { server: 'https://127.0.0.1:1' });
    const real = kubeconfigFile(join(dir, 'b'), { namespace: ns.name, contextName: 'real' });
    const env = { KUBECONFIG: `${broken}:${real}` };
    const res = await kanary(['status', 'web', '--watch=false', '--context', 'real'], {
      kubeconfig: null,
      env,
    });
    assert.deepEqual([res.code, res.stdout, res.stderr], [0, 'Paused - CanaryPauseStep\n', '']);
    const current = await kanary(['status', 'web', '--watch=false'], { kubeconfig: null, env });
    assert.match(current.stderr, /cannot reach the Kubernetes API server at https:\/\/127.0.0.1:1/);
  });

  it('invalid flags and arguments', async () => {
    const missing = await kanary(['promote']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /missing required argument 'rollout'/);
    const badIn = await kanary(['restart', 'web', '--in', 'soon']);
    assert.equal(badIn.stderr, 'error: invalid --in "soon": use a duration like 30s, 5m or 1h\n');
    const badImage = await kanary(['set', 'image', 'web', 'nginx']);
    assert.match(badImage.stderr, /^error: expected CONTAINER=IMAGE, got "nginx"/);
    const badOutput = await kanary(['get', 'rollout', 'web', '-o', 'xml']);
    assert.match(badOutput.stderr, /unknown output format "xml"/);
    const unknown = await kanary(['promte', 'web']);
    assert.match(unknown.stderr, /unknown command 'promte'.*\n.*Did you mean promote\?/s);
  });
});
