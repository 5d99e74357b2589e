import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  commandRun,
  completedPodStatus,
  completionPlan,
  podRunMs,
  runStartedAt,
  runsToCompletion,
  scriptRun,
  sleepMs,
} from '../../../src/cluster/completion.ts';

describe('sleepMs (GNU sleep operands)', () => {
  const cases: [string, number | undefined][] = [
    ['30', 30_000],
    ['0', 0],
    ['0s', 0],
    ['1.5', 1500],
    ['.5s', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['infinity', Number.POSITIVE_INFINITY],
    ['5x', undefined],
    ['-1', undefined],
    ['', undefined],
  ];
  for (const [operand, ms] of cases) it(JSON.stringify(operand), () => assert.equal(sleepMs(operand), ms));
});

describe('scriptRun', () => {
  const cases: [string, number, number][] = [
    // script, exit code, run time
    ['sleep 0s && exit 0', 0, 0],
    ['sleep 2 && exit 1', 1, 2000],
    ['sleep 1; sleep 2', 0, 3000],
    ['false && sleep 5', 1, 0],
    ['false || sleep 5', 0, 5000],
    ['true || exit 3', 0, 0],
    ['exit 7; sleep 10', 7, 0],
    ['sleep 1\nexit 2', 2, 1000],
    ['exit 300', 44, 0],
    ["echo 'a && b' && exit 4", 4, 0],
    ['sleep bogus && exit 0', 1, 0],
    ['some-program --flag', 0, 0],
    ['', 0, 0],
  ];
  for (const [script, exitCode, runMs] of cases)
    it(JSON.stringify(script), () => assert.deepEqual(scriptRun(script), { exitCode, runMs }));
});

describe('commandRun', () => {
  it('reads sh -c with options before the script, as the upstream job templates write it', () => {
    assert.deepEqual(commandRun({ command: ['sh', '-c', '-x'], args: ['sleep 3 && exit 2'] }), {
      exitCode: 2,
      runMs: 3000,
    });
    assert.deepEqual(commandRun({ command: ['/bin/bash', '-ec', 'sleep 1'] }), { exitCode: 0, runMs: 1000 });
  });
  it('runs a command given directly', () => {
    assert.deepEqual(commandRun({ command: ['sleep', '30'] }), { exitCode: 0, runMs: 30_000 });
    assert.deepEqual(commandRun({ command: ['false'] }), { exitCode: 1, runMs: 0 });
  });
  it('exits 0 at once without a command, or for a shell without -c', () => {
    assert.deepEqual(commandRun({}), { exitCode: 0, runMs: 0 });
    assert.deepEqual(commandRun({ command: ['sh', 'script.sh'] }), { exitCode: 0, runMs: 0 });
  });
});

const jobPod = (
  containers: { name: string; image?: string; command?: string[] }[],
  restartPolicy = 'Never',
) => ({
  metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'j' }] },
  spec: { restartPolicy, containers },
  status: { startTime: '2026-01-01T00:00:00Z' },
});

describe('runsToCompletion and completionPlan', () => {
  const map = { 'app:exit': { exitCode: 3, runMs: 500 }, 'app:slow': { runMs: 2000 } };
  it("a Job's pod completes; a server pod does not", () => {
    assert.equal(runsToCompletion(jobPod([{ name: 'a', image: 'x' }]) as never, {}), true);
    assert.equal(runsToCompletion({ spec: { containers: [{ name: 'a', image: 'x' }] } }, {}), false);
  });
  it('a behaviour with exitCode or runMs completes a Never/OnFailure pod, never an Always one', () => {
    const bare = (restartPolicy?: string) => ({
      spec: { restartPolicy, containers: [{ name: 'a', image: 'app:exit' }] },
    });
    assert.equal(runsToCompletion(bare('Never'), map), true);
    assert.equal(runsToCompletion(bare('OnFailure'), map), true);
    assert.equal(runsToCompletion(bare('Always'), map), false);
    assert.equal(runsToCompletion(bare(undefined), map), false);
  });
  it('takes exitCode and runMs from the behaviour over the command', () => {
    const plan = completionPlan(
      jobPod([
        { name: 'a', image: 'app:exit', command: ['sleep', '60'] },
        { name: 'b', image: 'app:slow', command: ['sh', '-c', 'exit 1'] },
        { name: 'c', image: 'nginx:1.19-alpine', command: ['sleep', '30'] },
      ]) as never,
      map,
    );
    assert.deepEqual(plan, [
      { name: 'a', exitCode: 3, runMs: 500 },
      { name: 'b', exitCode: 1, runMs: 2000 },
      { name: 'c', exitCode: 0, runMs: 30_000 },
    ]);
    assert.equal(podRunMs(plan!), 30_000);
  });
  it('treats a run beyond the timer limit as never finishing', () => {
    const plan = completionPlan(jobPod([{ name: 'a', image: 'x', command: ['sleep', '30d'] }]) as never, {});
    assert.equal(plan?.[0]?.runMs, Number.POSITIVE_INFINITY);
    assert.equal(podRunMs(plan!), Number.POSITIVE_INFINITY);
  });
  it('is undefined for a pod that keeps running', () => {
    assert.equal(completionPlan({ spec: { containers: [{ name: 'a' }] } }, {}), undefined);
  });
});

describe('completedPodStatus', () => {
  const pod = jobPod([
    { name: 'a', image: 'x:1' },
    { name: 'b', image: 'y:1' },
  ]);
  const now = new Date('2026-01-01T00:00:05Z');
  it('Succeeded with every container terminated 0 (Completed)', () => {
    const s = completedPodStatus(
      pod,
      [
        { name: 'a', exitCode: 0, runMs: 1000 },
        { name: 'b', exitCode: 0, runMs: 5000 },
      ],
      now,
    );
    assert.equal(s.phase, 'Succeeded');
    assert.deepEqual(
      s.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['ContainersReady', 'False', 'PodCompleted'],
        ['Ready', 'False', 'PodCompleted'],
      ],
    );
    assert.deepEqual(s.containerStatuses[0]?.state.terminated, {
      exitCode: 0,
      reason: 'Completed',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
    });
    assert.equal(s.containerStatuses[1]?.state.terminated.finishedAt, '2026-01-01T00:00:05.000Z');
  });
  it('Failed when any container exits non-zero (reason Error)', () => {
    const s = completedPodStatus(
      pod,
      [
        { name: 'a', exitCode: 0, runMs: 0 },
        { name: 'b', exitCode: 2, runMs: 0 },
      ],
      now,
    );
    assert.equal(s.phase, 'Failed');
    assert.deepEqual(
      s.containerStatuses.map((c) => [
        c.name,
        c.state.terminated.exitCode,
        c.state.terminated.reason,
        c.ready,
      ]),
      [
        ['a', 0, 'Completed', false],
        ['b', 2, 'Error', false],
      ],
    );
  });
});

describe('runStartedAt (when a run began, from a whole-second startTime)', () => {
  const t = Date.parse('2026-01-01T00:00:00.000Z');
  // [case, startTime, seen, seenBefore, expected]
  const cases: [string, number | undefined, number, boolean, number][] = [
    ['no startTime: when seen', undefined, t + 300, false, t + 300],
    [
      'seen Pending before: when seen Running, though startTime is over a second earlier',
      t,
      t + 1050,
      true,
      t + 1050,
    ],
    ['seen Pending before, seen within the second', t, t + 400, true, t + 400],
    ['first seen Running within the second after startTime: when seen', t, t + 999, false, t + 999],
    [
      'first seen Running a second or more after startTime (runtime was down): startTime',
      t,
      t + 1000,
      false,
      t,
    ],
    ['first seen Running long after (runtime was down): startTime', t, t + 60_000, false, t],
    ['seen before startTime (clock skew): startTime', t, t - 10, false, t],
  ];
  for (const [name, startTime, seen, before, want] of cases) {
    it(name, () => assert.equal(runStartedAt(startTime, seen, before), want));
  }
});
