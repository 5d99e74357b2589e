import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');

async function playground(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [join(root, 'bin', 'kanary.js'), 'playground', ...args],
      {
        cwd: root,
        timeout: 600_000,
        // not a terminal: plain lines, no colours
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The summary table's rows: step → [expected, measured, result]. */
function summary(stdout: string): Map<string, string> {
  const lines = stdout.split('\n');
  const start = lines.indexOf('Summary');
  assert.ok(start >= 0, `no summary in:\n${stdout}`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    const m = /^(\d+b?)\. .*\s(pass|FAIL)$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe('kanary playground', { concurrency: true }, () => {
  it('promotes: 10% canary measured with real traffic, header override, 100% after promotion, old ReplicaSet gone', async () => {
    // at 99.9% a correct data plane fails the share check once in a thousand runs, not once in a hundred
    const res = await playground(
      '--requests',
      '600',
      '--replicas',
      '4',
      '--confidence',
      '0.999',
      '-n',
      'pg-promote',
    );
    assert.equal(res.code, 0, `exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.deepEqual(
      [...summary(res.stdout)],
      [
        ['1', 'pass'],
        ['2', 'pass'],
        ['3', 'pass'],
        ['3b', 'pass'],
        ['4', 'pass'],
        ['5', 'pass'],
        ['6', 'pass'],
      ],
    );
    assert.match(res.stdout, /traffic at weight 10 \(600 requests\): \d+\.\d% on 0\.0\.2 \(99\.9% interval/);
    assert.match(res.stdout, /header X-Canary: true \(200 requests\): 100\.0% on 0\.0\.2/);
    assert.match(res.stdout, /traffic after promotion \(600 requests\): 0\.0\.2: 600 \(100\.0%\)/);
    assert.match(res.stdout, /All checks passed\./);
  });

  it('--abort: all traffic back on 0.0.1 and the canary scaled down', async () => {
    const res = await playground(
      '--requests',
      '400',
      '--replicas',
      '3',
      '--abort',
      '--confidence',
      '0.999',
      '-n',
      'pg-abort',
    );
    assert.equal(res.code, 0, `exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.equal(summary(res.stdout).size, 7);
    assert.match(res.stdout, /4\. abort: Degraded: RolloutAborted/);
    assert.match(res.stdout, /traffic after abort \(400 requests\): 0\.0\.1: 400 \(100\.0%\)/);
    assert.match(res.stdout, /canary ReplicaSet scaled down: 0 replicas/);
  });

  it('--scenario analysis: Prometheus measures, the controller promotes 0.0.2 and aborts 0.0.3 by itself', async () => {
    const res = await playground('--scenario', 'analysis', '--replicas', '2', '-n', 'pg-analysis');
    assert.equal(res.code, 0, `exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.deepEqual(
      [...summary(res.stdout)],
      [
        ['1', 'pass'],
        ['2', 'pass'],
        ['3', 'pass'],
      ],
    );
    assert.match(
      res.stdout,
      /AnalysisRun tomozo-\w+-2-1: Successful; measured canary-success-rate: 100, 100/,
    );
    const bad = /AnalysisRun tomozo-\w+-3-1: Failed; measured canary-success-rate: ([\d.]+) \(Failed\)/.exec(
      res.stdout,
    );
    assert.ok(bad, res.stdout);
    // 20% of the canary's answers are HTTP 500: about 80
    assert.ok(Number(bad[1]) > 60 && Number(bad[1]) < 92, `measured ${bad[1]}`);
    assert.match(res.stdout, /decision: RolloutAborted: Rollout aborted update to revision 3/);
  });

  it('--strategy bluegreen: active host on blue and preview on green while paused, both green after promotion, blue scaled down, no failed request', async () => {
    const res = await playground(
      '--strategy',
      'bluegreen',
      '--requests',
      '300',
      '--replicas',
      '3',
      '-n',
      'pg-bg',
    );
    assert.equal(res.code, 0, `exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.deepEqual(
      [...summary(res.stdout)].map(([k]) => k),
      ['1', '2', '3', '3b', '4', '5', '5b', '6', '7'],
    );
    assert.ok(
      [...summary(res.stdout).values()].every((v) => v === 'pass'),
      res.stdout,
    );
    assert.match(
      res.stdout,
      /2\. update to green: Paused \(BlueGreenPause\); active → (\w+), preview → (?!\1)\w+/,
    );
    assert.match(
      res.stdout,
      /active host while paused \(300 requests to bluegreen\.example\): blue: 300 \(100\.0%\)/,
    );
    assert.match(
      res.stdout,
      /preview host while paused \(300 requests to preview\.bluegreen\.example\): green: 300 \(100\.0%\)/,
    );
    assert.match(
      res.stdout,
      /active host after promotion \(300 requests to bluegreen\.example\): green: 300 \(100\.0%\)/,
    );
    assert.match(
      res.stdout,
      /preview host after promotion \(300 requests to preview\.bluegreen\.example\): green: 300 \(100\.0%\)/,
    );
    assert.match(res.stdout, /old ReplicaSet \(blue\) scaled down: 0 replicas/);
    assert.match(
      res.stdout,
      /steady traffic on bluegreen\.example throughout: \d+ requests, 0 failed \(blue: \d+/,
    );
  });

  it('--strategy bluegreen --abort: active host stays on blue, the preview ReplicaSet is scaled down', async () => {
    const res = await playground(
      '--strategy',
      'bluegreen',
      '--abort',
      '--requests',
      '200',
      '--replicas',
      '2',
      '-n',
      'pg-bg-abort',
    );
    assert.equal(res.code, 0, `exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.deepEqual(
      [...summary(res.stdout)].map(([k]) => k),
      ['1', '2', '3', '3b', '4', '5', '6', '7'],
    );
    assert.match(res.stdout, /4\. abort: Degraded: RolloutAborted: Rollout aborted update to revision 2/);
    assert.match(
      res.stdout,
      /active host after abort \(200 requests to bluegreen\.example\): blue: 200 \(100\.0%\)/,
    );
    assert.match(res.stdout, /preview ReplicaSet \(green\) scaled down: 0 replicas/);
    assert.match(
      res.stdout,
      /steady traffic on bluegreen\.example throughout: \d+ requests, 0 failed \(blue: \d+ \(100\.0%\)\)/,
    );
  });

  it('rejects bad flags with a clear message', async () => {
    const res = await playground('--requests', 'lots');
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /--requests must be a positive whole number, got "lots"/);
    const ext = await playground('--kubeconfig', '/dev/null');
    assert.notEqual(ext.code, 0);
    assert.match(ext.stderr, /--ingress-url/);
    const scenario = await playground('--scenario', 'chaos');
    assert.notEqual(scenario.code, 0);
    assert.match(scenario.stderr, /--scenario must be "default" or "analysis", got "chaos"/);
    const strategy = await playground('--strategy', 'rainbow');
    assert.notEqual(strategy.code, 0);
    assert.match(strategy.stderr, /--strategy must be "canary" or "bluegreen", got "rainbow"/);
    const bgAnalysis = await playground('--strategy', 'bluegreen', '--scenario', 'analysis');
    assert.notEqual(bgAnalysis.code, 0);
    assert.match(bgAnalysis.stderr, /--scenario analysis is a canary scenario/);
    const canaryDir = await playground('--strategy', 'bluegreen', '-f', 'examples/tomozo', '--image', 'x:1');
    assert.notEqual(canaryDir.code, 0);
    assert.match(canaryDir.stderr, /--strategy bluegreen: Rollout tomozo has no strategy\.blueGreen/);
    const mixed = await playground('--scenario', 'analysis', '--abort');
    assert.notEqual(mixed.code, 0);
    assert.match(mixed.stderr, /--scenario analysis runs the built-in tomozo scenario on the local cluster/);
  });
});
