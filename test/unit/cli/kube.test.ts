import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { UserError } from '../../../src/cli/errors.ts';
import { Cluster, closeNames, editDistance, translateError } from '../../../src/cli/kube.ts';
import { KubeApiError } from '../../../src/kube/client.ts';
import { loadKubeConfig, mergeKubeconfigFiles } from '../../../src/kube/config.ts';

const call = { verb: 'patch', resource: 'rollouts/status', namespace: 'shop', name: 'web' };
const tr = (err: unknown) => translateError(err, call, 'https://127.0.0.1:6443', 'dev') as UserError;

describe('translateError', () => {
  it('names verb, resource and namespace when RBAC forbids', () => {
    const err = tr(
      new KubeApiError(403, 'PATCH', '/x', {
        message: 'rollouts.argoproj.io "web" is forbidden: User "ci" cannot patch resource "rollouts/status"',
      }),
    );
    assert.ok(err instanceof UserError);
    assert.equal(
      err.message,
      'forbidden: you may not patch rollouts/status (argoproj.io) in namespace "shop"',
    );
    assert.match(err.hint ?? '', /cannot patch resource "rollouts\/status"/);
  });
  it('says the CRD is missing when the resource type is unknown', () => {
    const err = tr(new KubeApiError(404, 'PATCH', '/x', '404 page not found'));
    assert.match(err.message, /does not know the Rollout resource/);
  });
  it('says which object is missing', () => {
    const err = tr(new KubeApiError(404, 'PATCH', '/x', { message: 'not found', details: { name: 'web' } }));
    assert.equal(err.message, 'rollout "web" not found in namespace "shop"');
  });
  it('turns network failures into "cannot reach" with the server and context', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const err = tr(refused);
    assert.equal(
      err.message,
      'cannot reach the Kubernetes API server at https://127.0.0.1:6443 (ECONNREFUSED)',
    );
    assert.match(err.hint ?? '', /context "dev"/);
    const timeout = Object.assign(new Error('aborted'), { name: 'TimeoutError' });
    assert.match(tr(timeout).message, /timed out/);
  });
  it('reports an unauthorized context', () => {
    assert.match(
      tr(new KubeApiError(401, 'GET', '/x', {})).message,
      /rejected the credentials of context "dev"/,
    );
  });
  it('leaves unexpected errors alone (they are bugs and keep their stack)', () => {
    const bug = new TypeError('x is undefined');
    assert.equal(translateError(bug, call, 's', 'c'), bug);
  });
});

describe('close name suggestions', () => {
  it('edit distance', () => {
    assert.equal(editDistance('canary', 'canary'), 0);
    assert.equal(editDistance('canray', 'canary'), 2);
    assert.equal(editDistance('', 'abc'), 3);
  });
  it('suggests typos and substrings, closest first, never the name itself', () => {
    const names = ['checkout', 'checkout-canary', 'cart', 'payments', 'web'];
    assert.deepEqual(closeNames('chekout', names), ['checkout']);
    assert.deepEqual(closeNames('checkout-c', names), ['checkout', 'checkout-canary']);
    assert.deepEqual(closeNames('canary', names), ['checkout-canary']);
    assert.deepEqual(closeNames('zzzzzz', names), []);
    assert.deepEqual(closeNames('web', names), []);
  });
});

describe('KUBECONFIG with several files', () => {
  const file = (dir: string, name: string, server: string, current: string | undefined) => {
    const path = join(dir, name);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'shared', cluster: { server } }],
        users: [{ name: 'me', user: { token: name } }],
        contexts: [{ name: `ctx-${name}`, context: { cluster: 'shared', user: 'me', namespace: name } }],
        ...(current ? { 'current-context': current } : {}),
      }),
    );
    return path;
  };

  it('merges like kubectl: first definition and first current-context win, missing files are skipped', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kanary-kc-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const a = file(dir, 'a', 'https://127.0.0.1:1001', undefined);
    const b = file(dir, 'b', 'https://127.0.0.1:1002', 'ctx-b');
    const c = file(dir, 'c', 'https://127.0.0.1:1003', 'ctx-c');
    const kc = mergeKubeconfigFiles([join(dir, 'missing'), a, b, c]);
    assert.equal(kc.getCurrentContext(), 'ctx-b');
    assert.deepEqual(
      kc.getContexts().map((x) => x.name),
      ['ctx-a', 'ctx-b', 'ctx-c'],
    );
    // the cluster named "shared" comes from the first file that defines it
    assert.equal(kc.getCurrentCluster()?.server, 'https://127.0.0.1:1001');
  });

  it('Cluster.fromFlags uses the merge for KUBECONFIG, with --context and the context namespace', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kanary-kc-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = {
      KUBECONFIG: [
        file(dir, 'a', 'https://127.0.0.1:1001', 'ctx-a'),
        file(dir, 'b', 'https://127.0.0.1:1002', undefined),
      ].join(':'),
    };
    assert.equal(Cluster.fromFlags({}, env).namespace, 'a');
    assert.equal(Cluster.fromFlags({ context: 'ctx-b' }, env).namespace, 'b');
    assert.equal(Cluster.fromFlags({ context: 'ctx-b', namespace: 'x' }, env).namespace, 'x');
    assert.throws(
      () => Cluster.fromFlags({ context: 'nope' }, env),
      /context "nope" not found in kubeconfig/,
    );
  });

  it('loadKubeConfig (kanary ingress, the playground) merges KUBECONFIG the same way', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kanary-kc-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = {
      KUBECONFIG: [
        file(dir, 'a', 'https://127.0.0.1:1001', 'ctx-a'),
        file(dir, 'b', 'https://127.0.0.1:1002', 'ctx-b'),
      ].join(':'),
    };
    // client-node alone would take the last file's current-context
    assert.equal(loadKubeConfig({ env }).getCurrentContext(), 'ctx-a');
    assert.equal(
      loadKubeConfig({ env, context: 'ctx-b' }).getCurrentCluster()?.server,
      'https://127.0.0.1:1001',
    );
    assert.throws(() => loadKubeConfig({ env, context: 'nope' }), /context "nope" not found in kubeconfig/);
  });
});
