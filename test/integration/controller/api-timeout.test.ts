/**
 * An API server connection that stops answering in the middle of a pass must
 * not stall the work queue: the controller runs behind a fault proxy in front
 * of the real kube-apiserver, with one worker. The first request of Rollout
 * "stuck"'s next pass goes to a connection that goes silent for good (its
 * answer never comes, as when a load balancer drops a flow); the controller's
 * watches keep flowing. The request times out, the worker is free again, and
 * Rollout "free" (changed right after) still progresses; "stuck" recovers on
 * its retry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { waitUntil } from '../../support/cluster.ts';
import { type Manifest, rolloutEnv } from '../../support/controller.ts';
import { type FaultProxy, startFaultProxy } from '../../support/fault-proxy.ts';

function rollout(name: string): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'nginx:1.19-alpine' }] },
      },
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
    },
  };
}

/** A copy of the test cluster's kubeconfig whose server is the fault proxy. */
function kubeconfigVia(proxy: FaultProxy): { path: string; remove: () => void } {
  const c = clusterConfig();
  const dir = mkdtempSync(join(tmpdir(), 'kanary-api-timeout-'));
  const text = readFileSync(files(c).kubeconfig, 'utf8');
  const via = text.replace(`https://127.0.0.1:${c.ports.apiserver}`, `https://127.0.0.1:${proxy.port}`);
  assert.notEqual(via, text, 'the kubeconfig names the API server');
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, via);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const REQUEST_TIMEOUT_S = 3;

it('a request whose answer never comes times out and frees the worker: other Rollouts keep progressing', async (t) => {
  const proxy = await startFaultProxy(clusterConfig().ports.apiserver);
  const kubeconfig = kubeconfigVia(proxy);
  t.after(async () => {
    await proxy.close();
    kubeconfig.remove();
  });
  // the later --kubeconfig wins: the controller reaches the API server only through the proxy
  const env = await rolloutEnv(t, 'api-timeout', {
    args: ['--kubeconfig', kubeconfig.path, '--workers', '1', '--request-timeout', `${REQUEST_TIMEOUT_S}s`],
  });
  await env.apply([rollout('stuck'), rollout('free')]);
  await env.waitFor('stuck', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.waitFor('free', 'Healthy', (r) => r.status?.phase === 'Healthy');
  // quiet: the controller has nothing left to write (Events of the last passes included)
  await waitUntil(
    'the controller to go quiet',
    async () => Date.now() - proxy.lastClientWriteAt > 1500,
    30_000,
  );

  proxy.blackholeNextRequests(1);
  await env.ros.setImage('stuck', 'c', 'nginx:1.19-alpine-2');
  await waitUntil("stuck's pass to send its first request", async () => proxy.blackholed === 1, 20_000);
  const hungAt = Date.now();
  await env.ros.setImage('free', 'c', 'nginx:1.19-alpine-2');

  // one worker: without a timeout it would wait for the lost answer forever
  await env.waitFor('free', 'Paused at its step', (r) => r.status?.phase === 'Paused', 40_000);
  const freeAfterMs = Date.now() - hungAt;
  await env.waitFor('stuck', 'Paused after its retry', (r) => r.status?.phase === 'Paused', 40_000);
  t.diagnostic(
    `free progressed ${freeAfterMs} ms after stuck's request hung (timeout ${REQUEST_TIMEOUT_S} s)`,
  );

  const timedOut = env.ctrl?.logs.find((l) => l.includes('(request timeout)')) ?? '';
  assert.match(
    timedOut,
    new RegExp(
      `"rollout":"${env.ns.name}/stuck".*"err":"[A-Z]+ /\\S+: no answer from the API server within ${REQUEST_TIMEOUT_S} s \\(request timeout\\)"`,
    ),
    `the timeout is logged for stuck's pass, naming method, path and timeout:\n${env.logs()}`,
  );
  assert.ok(
    freeAfterMs >= REQUEST_TIMEOUT_S * 1000 - 500,
    `free had to wait for the timeout (${freeAfterMs} ms)`,
  );
  assert.equal(env.ctrl?.child.exitCode, null, `the controller exited:\n${env.logs()}`);
});
