/**
 * `kanary dashboard` as a real process against the local cluster and a real
 * `kanary controller`, its page driven in real headless Chromium: the seed
 * scenario (examples/tomozo) paused at its first step, promote, abort, retry
 * and undo clicked in the page, a change made with the API (as kubectl)
 * showing within a second, a lost connection, and the API's refusals.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { it } from 'node:test';
import type { Page } from 'playwright-core';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { freePort } from '../../../src/cluster/ports.ts';
import { burst } from '../../../src/playground/traffic.ts';
import { launchBrowser, screenshot } from '../../support/browser.ts';
import { waitUntil } from '../../support/cluster.ts';
import { editRollout, rolloutEnv } from '../../support/controller.ts';
import { type KanaryProcess, spawnKanary, startIngressProcess } from '../../support/kanary-process.ts';
import { tomozoManifests } from '../../support/scenario.ts';

const kubeconfig = () => files(clusterConfig()).kubeconfig;
const TOKEN = 'dashboard-test-token-0123456789';

interface Dashboard extends KanaryProcess {
  base: string;
}

/** `kanary dashboard` on a free port; resolves once it printed its URL. */
async function startDashboard(
  t: TestContext,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Dashboard> {
  const k = await spawnKanary(t, 'direct', ['dashboard', '--kubeconfig', kubeconfig(), ...args], {
    ...process.env,
    ...env,
  });
  const line = await waitUntil(
    'the dashboard to print its URL',
    async () => {
      if (k.child.exitCode !== null) throw new Error(`dashboard exited:\n${k.logs.join('\n')}`);
      return k.logs.find((l) => l.includes('kanary dashboard: open http'));
    },
    60_000,
    50,
  );
  const base = /open (http:\/\/[^/]+)\//.exec(line)?.[1] ?? '';
  return { ...k, base };
}

const phaseOf = (page: Page) => page.locator('#ro-title .phase').textContent();

it('the seed scenario in the page: paused at 10%, promote, abort, retry, undo, live updates, refusals', async (t) => {
  const env = await rolloutEnv(t, 'dash');
  const ns = env.ns.name;
  await env.apply(editRollout(tomozoManifests(), (ro) => (ro.spec.replicas = 2)));
  await env.waitFor('tomozo', 'Healthy', (r) => r.status?.phase === 'Healthy');
  const setImage = (image: string) =>
    env.ros.patch('tomozo', { spec: { template: { spec: { containers: [{ name: 'tomozo', image }] } } } });
  await setImage('tomozo-repo/tomozo:0.0.2');
  await env.waitFor(
    'tomozo',
    'paused at step 1',
    (r) => r.status?.phase === 'Paused' && r.status?.currentStepIndex === 1,
  );

  // the data plane, whose metrics the dashboard reads for the served split
  const ingress = await startIngressProcess(t, 'direct', ns);
  const metrics = `http://127.0.0.1:${ingress.metricsPort}/metrics`;
  const port = String(await freePort());
  const dashArgs = ['-n', ns, '--port', port, '--ingress-metrics', metrics];
  let dash = await startDashboard(t, dashArgs, { KANARY_DASHBOARD_TOKEN: TOKEN });
  const browser = await launchBrowser(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${dash.base}/#token=${TOKEN}`);

  // the list: the paused canary at weight 10
  const row = page.locator(`tr[data-rollout="${ns}/tomozo"]`);
  await row.locator('.phase', { hasText: 'Paused' }).waitFor({ timeout: 10_000 });
  assert.equal(await row.locator('td.weight').textContent(), '10%');
  await screenshot(page, 'list-paused');

  // the rollout page: step 1/2 marked, weight 10 asked and set on the router
  await row.getByRole('link', { name: 'tomozo' }).click();
  await page.getByTestId('set-weight').waitFor();
  assert.equal(await page.getByTestId('step').textContent(), '1/2');
  assert.equal(await page.getByTestId('set-weight').textContent(), '10%');
  assert.equal(await page.getByTestId('actual-weight').textContent(), '10%');
  assert.equal(await page.locator('ol.steps li[aria-current="step"]').textContent(), 'pause (current)');
  assert.equal(await phaseOf(page), 'Paused');

  // the served split: real requests through the data plane while the page watches
  let sending = true;
  const sent = { canary: 0, stable: 0 };
  const traffic = (async () => {
    while (sending) {
      const r = await burst({
        url: `http://127.0.0.1:${ingress.httpPort}`,
        host: 'tomozo.tokyo',
        path: '/v1/tomozo/hello',
        requests: 40,
        concurrency: 4,
      });
      sent.canary += r.byVersion['0.0.2'] ?? 0;
      sent.stable += r.byVersion['0.0.1'] ?? 0;
    }
  })();
  try {
    await page.getByTestId('served-weight').filter({ hasText: /^10%$/ }).waitFor({ timeout: 30_000 });
    const rps = async (id: string) =>
      Number(/^([\d.]+) req\/s$/.exec((await page.getByTestId(id).textContent()) ?? '')?.[1]);
    await waitUntil(
      'both versions serving in the page',
      async () => (await rps('served-canary')) > 0 && (await rps('served-stable')) > 0,
      30_000,
      100,
    );
    const share = Number(
      /^([\d.]+)%$/.exec((await page.getByTestId('served-share').textContent()) ?? '')?.[1],
    );
    assert.ok(share > 0 && share < 50, `canary share ${share}% at weight 10`);
    await screenshot(page, 'rollout-paused-canary', { fullPage: false });
  } finally {
    sending = false;
    await traffic;
  }
  assert.ok(sent.canary > 0 && sent.stable > sent.canary, `the data plane answered ${JSON.stringify(sent)}`);

  // promote: confirm, result shown, Healthy in the page without a reload
  await page.evaluate(() => {
    (window as unknown as { marker: number }).marker = 42;
  });
  const act = async (button: string, result: RegExp) => {
    await page.getByRole('button', { name: button, exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('.result').filter({ hasText: result }).waitFor({ timeout: 10_000 });
  };
  await act('Promote', /^rollout 'tomozo' promoted$/);
  await page.locator('#ro-title .phase', { hasText: 'Healthy' }).waitFor({ timeout: 90_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'no reload');
  const promoted = await env.ros.get('tomozo');
  assert.equal(promoted.status?.stableRS, promoted.status?.currentPodHash);
  const audit = (await env.events('tomozo')).find((e) => e.reason === 'DashboardPromote');
  assert.ok(audit, 'the promote is recorded as an Event on the Rollout');
  assert.match(audit.message, /^promote from kanary dashboard \(context [^)]+\): rollout 'tomozo' promoted$/);

  // a new release, changed with the API as kubectl would: the page follows; abort, then retry
  await setImage('tomozo-repo/tomozo:0.0.3');
  await page.locator('#ro-title .phase', { hasText: 'Paused' }).waitFor({ timeout: 60_000 });
  await act('Abort', /^rollout 'tomozo' aborted$/);
  await page.locator('#ro-title .phase', { hasText: 'Degraded' }).waitFor({ timeout: 60_000 });
  assert.equal((await env.ros.get('tomozo')).status?.abort, true);
  await screenshot(page, 'rollout-aborted');
  await act('Retry', /^rollout 'tomozo' retried$/);
  await page.locator('#ro-title .phase', { hasText: 'Paused' }).waitFor({ timeout: 60_000 });

  // undo to revision 1: its template (0.0.1) is back on the Rollout
  await page.getByLabel('Undo to revision').selectOption('1');
  await act('Undo', /^rollout 'tomozo' undo to revision 1$/);
  const undone = await env.ros.get('tomozo');
  assert.equal(
    (undone.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]
      ?.image,
    'tomozo-repo/tomozo:0.0.1',
  );

  // set image from the page, driven from the keyboard; Escape cancels a confirmation
  await page.getByLabel('New image').fill('tomozo-repo/tomozo:0.0.4');
  await page.getByRole('button', { name: 'Set image' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });
  assert.equal(
    (undone.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]
      ?.image,
    ((await env.ros.get('tomozo')).spec as { template: { spec: { containers: { image: string }[] } } })
      .template.spec.containers[0]?.image,
    'cancelled: nothing sent',
  );
  await page.getByRole('button', { name: 'Set image' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).focus();
  await page.keyboard.press('Enter');
  await page
    .locator('.result')
    .filter({ hasText: /^rollout "tomozo" image updated$/ })
    .waitFor({ timeout: 10_000 });
  const withImage = await env.ros.get('tomozo');
  assert.equal(
    (withImage.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec
      .containers[0]?.image,
    'tomozo-repo/tomozo:0.0.4',
  );

  // a change made outside the page shows in the list within a second
  await page.goto(`${dash.base}/#/`);
  await row.waitFor();
  const before = Date.now();
  await setImage('tomozo-repo/tomozo:0.0.9');
  const patched = Date.now();
  await row.locator('td.images', { hasText: 'tomozo-repo/tomozo:0.0.9' }).waitFor({ timeout: 1000 });
  const shownAfter = Date.now() - patched;
  assert.ok(shownAfter < 1000, `shown ${shownAfter} ms after the patch (${patched - before} ms to patch)`);

  // a lost connection shows a banner; the page reconnects when the dashboard is back
  dash.child.kill('SIGKILL');
  await dash.exited;
  await page
    .getByRole('alert')
    .filter({ hasText: /Connection to the dashboard lost/ })
    .waitFor({ timeout: 10_000 });
  dash = await startDashboard(t, dashArgs, { KANARY_DASHBOARD_TOKEN: TOKEN });
  await page.locator('.conn', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
  assert.equal(
    await page
      .getByRole('alert')
      .filter({ hasText: /Connection/ })
      .count(),
    0,
  );

  // refusals, straight at the API
  const promote = `${dash.base}/api/v1/rollouts/${ns}/tomozo/promote`;
  const noToken = await fetch(promote, { method: 'PUT' });
  assert.equal(noToken.status, 401);
  assert.match(((await noToken.json()) as { error: string }).error, /missing bearer token/);
  const wrong = await fetch(promote, { method: 'PUT', headers: { authorization: 'Bearer not-the-token' } });
  assert.equal(wrong.status, 401);
  const crossSite = await fetch(promote, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
  });
  assert.equal(crossSite.status, 403);
  const readNoToken = await fetch(`${dash.base}/api/v1/rollouts/${ns}/info`);
  assert.equal(readNoToken.status, 401);
  const health = await fetch(`${dash.base}/healthz`);
  assert.deepEqual([health.status, await health.text()], [200, 'ok\n']);
  const missing = await fetch(`${dash.base}/api/v1/rollouts/${ns}/nope/abort`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.deepEqual(
    [missing.status, await missing.json()],
    [404, { error: `rollout "nope" not found in namespace "${ns}"` }],
  );

  // the other actions through the API, as the page sends them
  const put = (action: string, body?: unknown) =>
    fetch(`${dash.base}/api/v1/rollouts/${ns}/tomozo/${action}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => [r.status, await r.json()]);
  assert.deepEqual(await put('pause'), [200, { message: "rollout 'tomozo' paused" }]);
  assert.equal((await env.ros.get('tomozo')).spec?.paused, true);
  assert.deepEqual(await put('resume'), [200, { message: "rollout 'tomozo' resumed" }]);
  assert.equal((await env.ros.get('tomozo')).spec?.paused, false);
  const restartFrom = Math.floor(Date.now() / 1000) * 1000;
  assert.deepEqual(await put('restart'), [200, { message: "rollout 'tomozo' restarted" }]);
  const restartAt = Date.parse(String((await env.ros.get('tomozo')).spec?.restartAt));
  assert.ok(restartAt >= restartFrom && restartAt <= Date.now(), `restartAt ${restartAt}`);
  assert.deepEqual(await put('promote', { full: true }), [
    200,
    { message: "rollout 'tomozo' fully promoted" },
  ]);
  await env.waitFor(
    'tomozo',
    'Healthy after promote --full',
    (r) => r.status?.phase === 'Healthy' && r.status?.stableRS === r.status?.currentPodHash,
    90_000,
  );
  const reasons = new Set((await env.events('tomozo')).map((e) => e.reason));
  for (const r of [
    'DashboardPause',
    'DashboardResume',
    'DashboardRestart',
    'DashboardPromoteFull',
    'DashboardAbort',
    'DashboardRetry',
    'DashboardUndo',
    'DashboardSetImage',
  ])
    assert.ok(reasons.has(r), `Event ${r}`);

  // without the token the page asks for it, and works once given
  const fresh = await browser.newPage();
  await fresh.goto(`${dash.base}/`);
  await fresh
    .getByRole('alert')
    .filter({ hasText: /missing bearer token/ })
    .waitFor({ timeout: 10_000 });
  await fresh.getByLabel('Token').fill(TOKEN);
  await fresh.getByRole('button', { name: 'Use token' }).click();
  await fresh.locator(`tr[data-rollout="${ns}/tomozo"]`).waitFor({ timeout: 10_000 });
  await fresh.close();

  // changes are made as the dashboard's identity (--as): a user RBAC lets read but not patch gets the API server's 403, shown in the page
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`;
  await env.client.create(`${rbac}/roles`, {
    metadata: { name: 'viewer' },
    rules: [
      {
        apiGroups: ['argoproj.io'],
        resources: ['rollouts', 'analysisruns', 'experiments'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  await env.client.create(`${rbac}/rolebindings`, {
    metadata: { name: 'viewer' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'viewer' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'dash-viewer' }],
  });
  const viewer = await startDashboard(t, ['-n', ns, '--port', '0', '--as', 'dash-viewer'], {
    KANARY_DASHBOARD_TOKEN: TOKEN,
  });
  const viewerPage = await browser.newPage();
  await viewerPage.goto(`${viewer.base}/#token=${TOKEN}`);
  // the page takes the token from the URL when its script runs: only then go on
  await viewerPage.locator(`tr[data-rollout="${ns}/tomozo"]`).getByRole('link', { name: 'tomozo' }).click();
  await viewerPage
    .getByRole('button', { name: 'Restart', exact: true })
    .click({ timeout: 15_000 })
    .catch(async (err) => {
      throw new Error(
        `${err.message}\npage: ${await viewerPage.locator('body').textContent()}\nlogs: ${viewer.logs.join('\n')}`,
      );
    });
  await viewerPage.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  const refused = viewerPage.locator('.result.error');
  await refused.waitFor({ timeout: 10_000 });
  assert.match(
    (await refused.textContent()) ?? '',
    /^the Kubernetes API server answered 403: rollouts\.argoproj\.io "tomozo" is forbidden: User "dash-viewer" cannot patch resource "rollouts" in API group "argoproj\.io"/,
  );
  await screenshot(viewerPage, 'rollout-action-refused', { fullPage: false });
  await viewerPage.close();

  // read-only: a forged promote is refused by the API, and nothing changes
  const ro = await startDashboard(t, ['-n', ns, '--port', '0', '--read-only']);
  const promoteFullEvents = async () =>
    (await env.events('tomozo')).filter((e) => e.reason === 'DashboardPromoteFull').length;
  const fullBefore = await promoteFullEvents();
  const forged = await fetch(`${ro.base}/api/v1/rollouts/${ns}/tomozo/promote`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: '{"full":true}',
  });
  assert.equal(forged.status, 403);
  assert.match(((await forged.json()) as { error: string }).error, /read-only/);
  // it never reached the cluster: every action that goes through is recorded as an Event
  assert.equal(await promoteFullEvents(), fullBefore);
});

it('bound to a non-loopback address without --auth it refuses to start, saying why', async (t) => {
  const k = await spawnKanary(t, 'direct', [
    'dashboard',
    '--address',
    '0.0.0.0',
    '--kubeconfig',
    kubeconfig(),
  ]);
  const exit = await k.exited;
  assert.equal(exit.code, 1);
  assert.match(
    k.logs.join('\n'),
    /^error: refusing to serve the dashboard on 0\.0\.0\.0 without authentication: .*Add --auth token .* or --read-only, or bind to 127\.0\.0\.1$/m,
  );
});
