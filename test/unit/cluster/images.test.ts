import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  behaviourFor,
  imageVersion,
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
