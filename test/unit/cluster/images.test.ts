import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  behaviourFor,
  imageVersion,
  MAX_LATENCY_MS,
  responseFor,
  sampleLatencyMs,
  servedContainers,
  validateImageBehaviours,
} from '../../../src/cluster/images.ts';

describe('imageVersion', () => {
  const cases: [string, string][] = [
    ['tomozo-repo/tomozo:0.0.1', '0.0.1'],
    ['nginx', 'latest'],
    ['registry.local:5000/team/app', 'latest'],
    ['registry.local:5000/team/app:v2', 'v2'],
    ['app@sha256:abc', 'sha256:abc'],
    ['app:1.0@sha256:abc', 'sha256:abc'],
  ];
  for (const [image, version] of cases)
    it(`${image} → ${version}`, () => assert.equal(imageVersion(image), version));
});

describe('behaviourFor', () => {
  const map = { 'app:*': { status: 503 }, 'app:bad': { status: 500 }, 'other:1': { delayMs: 5 } };
  const cases: [string, number | undefined][] = [
    ['app:bad', 500], // exact key is longer than the prefix key
    ['app:good', 503],
    ['other:1', undefined],
    ['unrelated:1', undefined],
  ];
  for (const [image, status] of cases) {
    it(image, () => assert.equal(behaviourFor(image, map)?.status, status));
  }
});

describe('validateImageBehaviours', () => {
  it('accepts a valid map', () => {
    assert.deepEqual(validateImageBehaviours({ 'a:1': { status: 500, delayMs: 1, ready: false } }), {
      'a:1': { status: 500, delayMs: 1, ready: false },
    });
  });
  const bad: [unknown, RegExp][] = [
    [[], /must be an object/],
    [{ 'a:1': { status: 42 } }, /status must be an HTTP status code/],
    [{ 'a:1': { delayMs: -1 } }, /delayMs/],
    [{ 'a:1': { ready: 'yes' } }, /ready must be true or false/],
    [{ 'a:1': { colour: 'red' } }, /unknown field\(s\) colour/],
  ];
  for (const [value, msg] of bad)
    it(`rejects ${JSON.stringify(value)}`, () => assert.throws(() => validateImageBehaviours(value), msg));
});

describe('servedContainers', () => {
  const pod = (containers: unknown[]) => ({
    metadata: { name: 'p', namespace: 'ns' },
    spec: { nodeName: 'n0', containers },
    status: { podIP: '10.244.0.9' },
  });
  it('defaults to port 80 on the first container when no port is declared', () => {
    const out = servedContainers(
      pod([
        { name: 'a', image: 'x:1' },
        { name: 'b', image: 'y:2' },
      ]) as never,
      {},
    );
    assert.deepEqual(
      out.map((c) => [c.container, c.ports, c.version, c.ip]),
      [['a', [80], '1', '10.244.0.9']],
    );
  });
  it('serves each declared TCP port once, skipping UDP', () => {
    const out = servedContainers(
      pod([
        {
          name: 'a',
          image: 'x:1',
          ports: [{ containerPort: 8080 }, { containerPort: 8080 }, { containerPort: 53, protocol: 'UDP' }],
        },
        { name: 'b', image: 'y:2', ports: [{ containerPort: 9090, protocol: 'TCP' }] },
      ]) as never,
      { 'y:*': { status: 500 } },
    );
    assert.deepEqual(
      out.map((c) => [c.container, c.ports, c.behaviour?.status]),
      [
        ['a', [8080], undefined],
        ['b', [9090], 500],
      ],
    );
  });
});

describe('validateImageBehaviours: failing and completing containers', () => {
  it('accepts errorRate, latency, exitCode and runMs', () => {
    const v = { 'a:1': { errorRate: 0.2, latency: { medianMs: 20, p99Ms: 200 }, exitCode: 3, runMs: 1500 } };
    assert.deepEqual(validateImageBehaviours(v), v);
  });
  const bad: [unknown, RegExp][] = [
    [{ 'a:1': { errorRate: 1.5 } }, /errorRate must be a number from 0 to 1/],
    [{ 'a:1': { errorRate: -0.1 } }, /errorRate/],
    [{ 'a:1': { errorRate: '0.2' } }, /errorRate/],
    [{ 'a:1': { latency: 5 } }, /latency must be \{medianMs, p99Ms\}/],
    [{ 'a:1': { latency: { medianMs: 0, p99Ms: 5 } } }, /latency/],
    [{ 'a:1': { latency: { medianMs: 50, p99Ms: 10 } } }, /latency/],
    [{ 'a:1': { latency: { medianMs: 5, p99Ms: 10, p50: 1 } } }, /latency/],
    [{ 'a:1': { exitCode: 256 } }, /exitCode must be an integer from 0 to 255/],
    [{ 'a:1': { exitCode: 1.5 } }, /exitCode/],
    [{ 'a:1': { runMs: -1 } }, /runMs must be a non-negative number/],
  ];
  for (const [value, msg] of bad)
    it(`rejects ${JSON.stringify(value)}`, () => assert.throws(() => validateImageBehaviours(value), msg));
});

/** A deterministic uniform [0, 1) source (mulberry32), so the statistics below are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('responseFor', () => {
  it('without a behaviour: 200 at once', () => {
    assert.deepEqual(responseFor(undefined, Math.random), { status: 200, delayMs: 0 });
  });
  it('errorRate 0.2 answers about 20% of requests with 500 and the rest with the configured status', () => {
    const rand = seeded(1);
    const n = 20_000;
    let errors = 0;
    for (let i = 0; i < n; i++) {
      const r = responseFor({ errorRate: 0.2, status: 201 }, rand);
      if (r.status === 500) errors++;
      else assert.equal(r.status, 201);
    }
    // binomial: σ = sqrt(n p (1-p)) ≈ 57; 5σ either side
    assert.ok(Math.abs(errors - 0.2 * n) < 5 * 57, `${errors} errors of ${n}`);
  });
  it('errorRate 0 never fails and 1 always fails', () => {
    const rand = seeded(2);
    for (let i = 0; i < 1000; i++) {
      assert.equal(responseFor({ errorRate: 0 }, rand).status, 200);
      assert.equal(responseFor({ errorRate: 1 }, rand).status, 500);
    }
  });
  it('adds delayMs to the drawn latency', () => {
    const r = responseFor({ delayMs: 100, latency: { medianMs: 10, p99Ms: 10 } }, seeded(3));
    assert.equal(r.delayMs, 110);
  });
});

describe('sampleLatencyMs', () => {
  it('has the configured median and 99th percentile (log-normal)', () => {
    const rand = seeded(4);
    const draws = Array.from({ length: 50_000 }, () =>
      sampleLatencyMs({ medianMs: 20, p99Ms: 200 }, rand),
    ).sort((a, b) => a - b);
    const q = (p: number) => draws[Math.floor(p * draws.length)]!;
    assert.ok(Math.abs(q(0.5) - 20) < 1, `median ${q(0.5)}`);
    assert.ok(Math.abs(q(0.99) - 200) < 20, `p99 ${q(0.99)}`);
    assert.ok(draws[0]! > 0);
  });
  it('is constant when p99 equals the median, and capped', () => {
    assert.equal(sampleLatencyMs({ medianMs: 7, p99Ms: 7 }, Math.random), 7);
    assert.equal(sampleLatencyMs({ medianMs: 1e9, p99Ms: 1e9 }, Math.random), MAX_LATENCY_MS);
  });
});
