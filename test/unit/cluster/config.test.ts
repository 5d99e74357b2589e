import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { controlPlaneComponents, kubeconfigYaml } from '../../../src/cluster/components.ts';
import { clusterConfig, networkIndex } from '../../../src/cluster/config.ts';
import { kwokConfigYaml } from '../../../src/cluster/kwok-stages.ts';

const env = { HOME: '/home/u', KANARY_CACHE_DIR: '/cache' };

describe('clusterConfig', () => {
  it('gives the default cluster the documented addresses and ports', () => {
    const c = clusterConfig('kanary', env);
    assert.equal(c.podCidr, '10.244.0.0/16');
    assert.equal(c.ports.apiserver, 16443);
    assert.equal(c.netns, 'kanary');
    assert.equal(c.stateDir, '/home/u/.local/state/kanary/clusters/kanary');
    assert.match(c.binDir, /^\/cache\/k8s-[\d.]+_etcd-[\d.]+_kwok-[\d.]+\/bin$/);
  });
  it('moves every port with KANARY_PORT_BASE', () => {
    const c = clusterConfig('kanary', { ...env, KANARY_PORT_BASE: '20000' });
    assert.deepEqual(Object.values(c.ports), [20001, 20002, 20043, 20057, 20059, 20080]);
  });
  it('keeps other clusters off the default cluster ranges', () => {
    for (const name of ['lc', 'kanary-lc', 'a', 'zz-top']) {
      const i = networkIndex(name);
      assert.ok(i >= 1 && i <= 8, `${name} → ${i}`);
      const c = clusterConfig(name, env);
      const d = clusterConfig('kanary', env);
      assert.notEqual(c.podCidr, d.podCidr);
      assert.notEqual(c.hostAddr, d.hostAddr);
      assert.notEqual(c.ports.apiserver, d.ports.apiserver);
    }
  });
  it('rejects names that cannot make interface names', () => {
    assert.throws(() => clusterConfig('This-Is-Too-Long-A-Name', env), /invalid cluster name/);
    assert.throws(() => clusterConfig('Upper', env), /invalid cluster name/);
  });
});

describe('control-plane command lines', () => {
  const c = clusterConfig('kanary', env);
  const comps = controlPlaneComponents(c);
  const arg = (name: string, flag: string) =>
    comps
      .find((x) => x.name === name)
      ?.args.find((a) => a.startsWith(`${flag}=`))
      ?.split('=')
      .slice(1)
      .join('=');

  it('starts etcd, apiserver, controller-manager, scheduler and kwok in that order', () => {
    assert.deepEqual(
      comps.map((x) => x.name),
      ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'],
    );
  });
  it('binds everything to loopback', () => {
    assert.equal(arg('kube-apiserver', '--bind-address'), '127.0.0.1');
    assert.equal(arg('kube-controller-manager', '--bind-address'), '127.0.0.1');
    assert.equal(arg('kube-scheduler', '--bind-address'), '127.0.0.1');
    assert.equal(arg('etcd', '--listen-client-urls'), `http://127.0.0.1:${c.ports.etcd}`);
  });
  it('turns RBAC on and never publishes loopback endpoints', () => {
    assert.equal(arg('kube-apiserver', '--authorization-mode'), 'RBAC');
    assert.equal(arg('kube-apiserver', '--endpoint-reconciler-type'), 'none');
    assert.equal(arg('kube-apiserver', '--etcd-servers'), `http://127.0.0.1:${c.ports.etcd}`);
  });
  it("runs kube-controller-manager's default controllers, among them job and garbage collector", () => {
    // the job provider needs both: Jobs marked Complete/Failed, and Jobs deleted with their AnalysisRun
    const controllers = arg('kube-controller-manager', '--controllers');
    assert.ok(controllers === undefined || controllers.split(',').includes('*'), controllers);
  });
  it('hands kwok the pod range', () => {
    assert.equal(arg('kwok', '--cidr'), '10.244.0.0/16');
  });
  it('writes a kubeconfig kubectl can parse', () => {
    const [doc] = parseAllDocuments(kubeconfigYaml(c, 'tok', '/x/ca.crt'));
    const kc = doc!.toJS();
    assert.equal(kc.clusters[0].cluster.server, `https://127.0.0.1:${c.ports.apiserver}`);
    assert.equal(kc.users[0].user.token, 'tok');
    assert.equal(kc['current-context'], 'kanary');
  });
});

describe('kwok stages', () => {
  const docs = parseAllDocuments(kwokConfigYaml()).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS();
  });
  it('is valid YAML with one Stage per lifecycle step', () => {
    assert.deepEqual(
      docs.map((d) => `${d.kind}/${d.metadata.name}/${d.spec.resourceRef.kind}`),
      [
        'Stage/kanary-node-initialize/Node',
        'Stage/kanary-node-heartbeat/Node',
        'Stage/kanary-pod-running/Pod',
        'Stage/kanary-pod-delete/Pod',
      ],
    );
  });
  it('leaves readiness to the pod runtime', () => {
    const running = docs.find((d) => d.metadata.name === 'kanary-pod-running');
    assert.match(running.spec.next.statusTemplate, /status: "False", type: Ready/);
    assert.doesNotMatch(running.spec.next.statusTemplate, /status: "True", type: Ready/);
  });
});

describe('KANARY_CLUSTER', () => {
  it('names the cluster used when none is given', () => {
    assert.equal(clusterConfig(undefined, env).name, 'kanary');
    assert.equal(clusterConfig(undefined, { ...env, KANARY_CLUSTER: 'kanary-aj' }).name, 'kanary-aj');
    assert.equal(clusterConfig('other', { ...env, KANARY_CLUSTER: 'kanary-aj' }).name, 'other');
  });
});
