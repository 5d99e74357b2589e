/**
 * The dashboard with many Rollouts: how long until the list is interactive in
 * a real (headless) Chromium, how long a search takes to filter it, how long a
 * change made with the API takes to show, and the dashboard server's RSS.
 *
 *   node bench/dashboard-list.ts [rollouts=500] [page loads=5]
 *
 * On the benchmarks' own cluster `kanary-bench` unless KANARY_BENCH_CLUSTER
 * names another (e.g. the shared `kanary`). The Rollouts get a status written
 * to their status subresource (no controller runs), so the rows show what a
 * busy cluster shows: a third Paused at a step, the others Healthy.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { MERGE_PATCH, RESOURCES, resourcePath } from '../src/kube/client.ts';
import {
  benchCluster,
  createNamespace,
  createRollouts,
  deleteNamespace,
  machine,
  percentile,
  processUsage,
} from './controller-support.ts';

const total = Number(process.argv[2] ?? 500);
const loads = Number(process.argv[3] ?? 5);
const ns = 'bench-dashboard';
const TOKEN = 'bench-dashboard-token-0123456789';
const { kubeconfig, client } = await benchCluster(process.env.KANARY_BENCH_CLUSTER ?? 'kanary-bench');
await deleteNamespace(client, ns);
await createNamespace(client, ns);
await createRollouts(client, ns, total, 'example/app:1');
for (let i = 0; i < total; i += 25) {
  await Promise.all(
    Array.from({ length: Math.min(25, total - i) }, (_, k) => {
      const n = i + k;
      const paused = n % 3 === 0;
      return client.patch(
        resourcePath(RESOURCES.rollouts, ns, `r${n}`, 'status'),
        {
          status: {
            observedGeneration: '1',
            phase: paused ? 'Paused' : 'Healthy',
            message: paused ? 'CanaryPauseStep' : '',
            currentStepIndex: paused ? 1 : 2,
            replicas: 3,
            readyReplicas: 3,
            availableReplicas: 3,
            updatedReplicas: paused ? 1 : 3,
            pauseConditions: paused
              ? [{ reason: 'CanaryPauseStep', startTime: new Date().toISOString() }]
              : null,
          },
        },
        MERGE_PATCH,
      );
    }),
  );
}

const started = Date.now();
const child = spawn(
  process.execPath,
  [
    join(import.meta.dirname, '..', 'bin', 'kanary.js'),
    'dashboard',
    '--kubeconfig',
    kubeconfig,
    '-n',
    ns,
    '--port',
    '0',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KANARY_DASHBOARD_TOKEN: TOKEN } },
);
const base = await new Promise<string>((resolve, reject) => {
  child.once('exit', (code) => reject(new Error(`dashboard exited (${code})`)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = /open (http:\/\/[^/]+)\//.exec(line);
    if (m?.[1]) resolve(m[1]);
  });
});
const startMs = Date.now() - started;

const browser = await chromium.launch({
  executablePath: process.env.KANARY_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});
const interactive: number[] = [];
const searches: number[] = [];
const pushes: number[] = [];
try {
  for (let i = 0; i < loads; i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/#token=${TOKEN}`, { waitUntil: 'commit' });
    // from the start of navigation to the full table on screen with its search box usable
    const ms = await page.waitForFunction(
      (n) => {
        const rows = document.querySelectorAll('table.rollouts tbody tr').length;
        const search = document.querySelector<HTMLInputElement>('input[type=search]');
        return rows === n && search && !search.disabled ? performance.now() : false;
      },
      total,
      { timeout: 30_000, polling: 'raf' },
    );
    interactive.push(Math.round((await ms.jsonValue()) as number));
    // a search: keystrokes to the filtered table
    const t0 = Date.now();
    await page.locator('input[type=search]').fill('r49');
    await page.waitForFunction(
      () => document.querySelectorAll('table.rollouts tbody tr').length === 11,
      undefined,
      {
        polling: 'raf',
      },
    );
    searches.push(Date.now() - t0);
    await page.locator('input[type=search]').fill('');
    // a change made with the API, to the row showing it
    const image = `example/app:push-${i}`;
    const t1 = Date.now();
    await client.patch(
      resourcePath(RESOURCES.rollouts, ns, 'r7'),
      { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
      MERGE_PATCH,
    );
    await page.waitForFunction(
      (img) => document.querySelector('tr[data-rollout$="/r7"] td.images')?.textContent === img,
      image,
      { polling: 'raf', timeout: 10_000 },
    );
    pushes.push(Date.now() - t1);
    await page.close();
  }
  const usage = processUsage(child.pid!);
  const median = (xs: number[]) => percentile(xs, 50);
  console.log(`machine: ${machine()}`);
  console.log(`${total} Rollouts in one namespace, ${loads} page loads`);
  console.log(`dashboard start to listening (informers synced): ${startMs} ms`);
  console.log(
    `list interactive after navigation: median ${median(interactive)} ms, max ${Math.max(...interactive)} ms (${interactive.join(', ')})`,
  );
  console.log(`search "r49" to 11 rows: median ${median(searches)} ms (${searches.join(', ')})`);
  console.log(
    `API patch to the row updated: median ${median(pushes)} ms, max ${Math.max(...pushes)} ms (${pushes.join(', ')})`,
  );
  console.log(
    `dashboard server RSS after the runs: ${(usage.rss / 2 ** 20).toFixed(0)} MiB, CPU ${usage.cpuSeconds.toFixed(1)} s`,
  );
} finally {
  await browser.close();
  child.kill('SIGTERM');
  await deleteNamespace(client, ns);
}
