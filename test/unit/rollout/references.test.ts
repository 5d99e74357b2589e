import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import type { Rollout } from '../../../src/api/types.ts';
import {
  referencedObjectNames,
  serviceReleasePatch,
  servicesToRelease,
} from '../../../src/rollout/references.ts';
import { tomozoRollout } from './fixtures.ts';

const managed = (name: string, by?: string): V1Service => ({
  metadata: { name, annotations: by ? { 'argo-rollouts.argoproj.io/managed-by-rollouts': by } : {} },
  spec: { selector: { app: 'tomozo', 'rollouts-pod-template-hash': 'abc' } },
});

describe('referencedObjectNames', () => {
  it('the issue scenario: both Services, the stable and the canary Ingress', () =>
    assert.deepEqual(referencedObjectNames(tomozoRollout()), {
      services: ['tomozo-stable', 'tomozo-canary'],
      ingresses: ['tomozo', 'tomozo-tomozo-canary'],
    }));
  it('stableIngresses: each stable and canary Ingress', () => {
    const r = tomozoRollout();
    const tr = r.spec.strategy?.canary?.trafficRouting;
    if (tr) tr.nginx = { stableIngresses: ['a', 'b'] };
    assert.deepEqual(referencedObjectNames(r).ingresses, ['a', 'b', 'tomozo-a-canary', 'tomozo-b-canary']);
  });
  it('no router: no Ingress; no Services named: none', () => {
    const r: Rollout = { metadata: { name: 'x' }, spec: { strategy: { canary: {} } } };
    assert.deepEqual(referencedObjectNames(r), { services: [], ingresses: [] });
  });
  it('a malformed Rollout does not throw', () =>
    assert.deepEqual(referencedObjectNames({ metadata: {} } as Rollout), { services: [], ingresses: [] }));
});

describe('releasing Services (Argo generateRemovePatch)', () => {
  it('removes the managed-by annotation and the hash selector', () =>
    assert.deepEqual(serviceReleasePatch(managed('s', 'tomozo'), 'tomozo'), {
      metadata: { annotations: { 'argo-rollouts.argoproj.io/managed-by-rollouts': null } },
      spec: { selector: { 'rollouts-pod-template-hash': null } },
    }));
  it('leaves Services managed by another Rollout or by nobody alone', () => {
    assert.equal(serviceReleasePatch(managed('s', 'other'), 'tomozo'), undefined);
    assert.equal(serviceReleasePatch(managed('s'), 'tomozo'), undefined);
  });
  it('after a spec change, releases only the Services no longer named', () => {
    const r = tomozoRollout();
    const out = servicesToRelease(r, [
      managed('tomozo-stable', 'tomozo'),
      managed('old-canary', 'tomozo'),
      managed('x', 'other'),
    ]);
    assert.deepEqual(
      out.map((o) => o.name),
      ['old-canary'],
    );
  });
});
