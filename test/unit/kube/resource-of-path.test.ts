import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES, resourceOfPath, resourcePath } from '../../../src/kube/client.ts';

describe('resourceOfPath (the kind label of controller_clientset_k8s_request_total)', () => {
  const cases: [string, string][] = [
    [resourcePath(RESOURCES.leases, 'kube-system', 'kanary-controller-lock'), 'leases'],
    [resourcePath(RESOURCES.rollouts, 'ns', 'tomozo', 'status'), 'rollouts'],
    [resourcePath(RESOURCES.replicasets, 'ns'), 'replicasets'],
    [resourcePath(RESOURCES.rollouts), 'rollouts'],
    [resourcePath(RESOURCES.events, 'ns'), 'events'],
    ['/api/v1/namespaces/ns', 'namespaces'],
    ['/api/v1/namespaces', 'namespaces'],
    ['/api/v1/pods?watch=true', 'pods'],
    ['/version', ''],
    ['/apis', ''],
    ['', ''],
  ];
  for (const [path, kind] of cases) {
    it(`${path || '(empty)'} → ${kind || "''"}`, () => assert.equal(resourceOfPath(path), kind));
  }
});
