/**
 * /metrics of a running controller: Argo Rollouts' series (rollout_info with
 * the phase, rollout_phase, replica gauges, the rollout_reconcile histogram,
 * events) follow the Rollout through its phases and go when it is deleted.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { waitUntil } from '../../support/cluster.ts';
import { type ControllerProcess, editRollout, rolloutEnv } from '../../support/controller.ts';
import { tomozoManifests } from '../../support/scenario.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, enough for these series (no escaped quotes in our label values). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(c: ControllerProcess): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${c.healthPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parse(await res.text());
}

const of = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

it('/metrics: rollout_info follows the phase; rollout_reconcile histogram; series removed with the Rollout', async (t) => {
  const env = await rolloutEnv(t, 'metrics');
  const c = env.ctrl as ControllerProcess;
  const ro = { namespace: env.ns.name, name: 'tomozo' };
  await env.apply(editRollout(tomozoManifests(), (r) => (r.spec.replicas = 3)));
  await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  await env.ros.setImage('tomozo', 'tomozo', 'tomozo-repo/tomozo:0.0.2');
  await env.waitFor('tomozo', 'Paused', (r) => r.status?.phase === 'Paused');

  const paused = await waitUntil('rollout_info with phase Paused', async () => {
    const s = await scrape(c);
    return of(s, 'rollout_info', { ...ro, phase: 'Paused' }).length === 1 ? s : undefined;
  });
  assert.deepEqual(of(paused, 'rollout_info', ro), [
    {
      name: 'rollout_info',
      labels: { ...ro, strategy: 'canary', traffic_router: 'Nginx', phase: 'Paused' },
      value: 1,
    },
  ]);
  const phases = Object.fromEntries(of(paused, 'rollout_phase', ro).map((s) => [s.labels.phase, s.value]));
  assert.deepEqual(phases, { Healthy: 0, Progressing: 0, Paused: 1, Degraded: 0 });
  assert.equal(of(paused, 'rollout_info_replicas_desired', ro)[0]?.value, 3);
  assert.equal(of(paused, 'rollout_info_replicas_updated', ro)[0]?.value, 1);
  assert.equal(of(paused, 'rollout_info_replicas_available', ro)[0]?.value, 4);
  assert.equal(of(paused, 'rollout_info_replicas_unavailable', ro)[0]?.value, 0);

  // the reconcile histogram: buckets (cumulative, ending in +Inf = count), sum and count
  const buckets = of(paused, 'rollout_reconcile_bucket', ro);
  assert.deepEqual(
    buckets.map((b) => b.labels.le),
    ['0.01', '0.15', '0.25', '0.5', '1', '+Inf'],
  );
  const count = of(paused, 'rollout_reconcile_count', ro)[0]?.value ?? 0;
  assert.ok(count >= 5, `${count} reconciles so far`);
  assert.equal(buckets.at(-1)?.value, count);
  for (let i = 1; i < buckets.length; i++)
    assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0));
  assert.ok((of(paused, 'rollout_reconcile_sum', ro)[0]?.value ?? -1) > 0);
  assert.ok(of(paused, 'rollout_events_total', { ...ro, reason: 'RolloutPaused', type: 'Normal' })[0]?.value);
  assert.equal(of(paused, 'argo_rollouts_controller_info')[0]?.value, 1);
  assert.ok(of(paused, 'controller_clientset_k8s_request_total', { verb: 'PATCH' }).length > 0);
  assert.ok(of(paused, 'process_resident_memory_bytes').length === 1, 'process metrics');

  await env.ros.promote('tomozo');
  await env.waitFor(
    'tomozo',
    'Healthy',
    (r) => r.status?.phase === 'Healthy' && r.status.stableRS === r.status.currentPodHash,
  );
  const healthy = await waitUntil('rollout_info with phase Healthy', async () => {
    const s = await scrape(c);
    return of(s, 'rollout_info', { ...ro, phase: 'Healthy' }).length === 1 ? s : undefined;
  });
  assert.equal(of(healthy, 'rollout_info', ro).length, 1, 'the Paused series is gone');
  assert.equal(of(healthy, 'rollout_phase', { ...ro, phase: 'Healthy' })[0]?.value, 1);
  assert.equal(of(healthy, 'rollout_phase', { ...ro, phase: 'Paused' })[0]?.value, 0);

  await env.ros.delete('tomozo');
  await waitUntil('the Rollout series removed', async () => {
    const s = await scrape(c);
    return ['rollout_info', 'rollout_phase', 'rollout_info_replicas_desired'].every(
      (n) => of(s, n, ro).length === 0,
    );
  });
});
