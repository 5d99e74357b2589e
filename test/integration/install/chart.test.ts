/**
 * The Helm chart (deploy/helm/kanary): `helm lint`, and for every values file
 * of its ci/ folder `helm template` checked for what the issue asks of an
 * install (two controllers with leader election and probes, a locked-down
 * securityContext, the data plane's Service type, no `*` in RBAC, ...) and
 * dry-run on the real API server (`kubectl apply --dry-run=server`), so
 * every rendered object is one the API server accepts. Also: deploy/install
 * is what the chart renders, and the chart's CRDs are deploy/crds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { clusterConfig, files } from '../../../src/cluster/config.ts';
import { APPLY_PATCH, KubeClient } from '../../../src/kube/client.ts';
import { testKubeConfig, testNamespace } from '../../support/cluster.ts';
import { CHART, helm, helmBinary, helmTemplate } from '../../support/helm.ts';
import { objectPath } from '../../support/in-cluster.ts';
import { grantsOf, type PolicyRule } from '../../support/rbac.ts';
import type { Manifest } from '../../support/scenario.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const VALUES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

interface Container {
  name: string;
  image: string;
  args: string[];
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  resources?: { requests?: object; limits?: object };
}
interface Workload extends Manifest {
  spec: {
    replicas?: number;
    template: { spec: { containers: Container[]; securityContext?: Record<string, unknown> } };
  };
}

const byKind = (objs: Manifest[], kind: string) => objs.filter((o) => o.kind === kind);
const component = (objs: Manifest[], c: string) =>
  objs.find(
    (o) =>
      (o.kind === 'Deployment' || o.kind === 'DaemonSet') &&
      o.metadata.labels?.['app.kubernetes.io/component'] === c,
  ) as Workload | undefined;

/** What every workload of the chart must have, whatever the values. */
function checkLockedDown(w: Workload) {
  const pod = w.spec.template.spec;
  assert.equal(pod.securityContext?.runAsNonRoot, true, `${w.metadata.name}: runAsNonRoot`);
  for (const c of pod.containers) {
    const sc = c.securityContext ?? {};
    assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: read-only root FS`);
    assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
    assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${c.name}: all capabilities dropped`);
    assert.ok(c.resources?.requests && c.resources.limits, `${c.name}: resources`);
  }
}

/** the kubectl to use (KANARY_TEST_KUBECTL names another; a missing one exercises the API fallback) */
const KUBECTL = process.env.KANARY_TEST_KUBECTL || 'kubectl';
const HAS_KUBECTL = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).status === 0;

/**
 * Server dry-run: `kubectl apply --dry-run=server` when the machine has kubectl, else the same
 * through the API (server-side apply with dryRun=All), each accepted object reported as kubectl does.
 */
async function dryRun(objs: Manifest[], namespace: string): Promise<{ status: number | null; out: string }> {
  if (HAS_KUBECTL) return kubectlDryRun(objs, namespace);
  const client = new KubeClient(testKubeConfig());
  const lines: string[] = [];
  for (const o of objs) {
    try {
      await client.request(objectPath(o), {
        method: 'PATCH',
        body: o,
        contentType: APPLY_PATCH,
        query: { fieldManager: 'kanary-chart-test', dryRun: 'All', force: true },
      });
      lines.push(`${o.kind.toLowerCase()}/${o.metadata.name} serverside-applied (server dry run)`);
    } catch (err) {
      return {
        status: 1,
        out: `${lines.join('\n')}\n${o.kind}/${o.metadata.name}: ${(err as Error).message}`,
      };
    }
  }
  return { status: 0, out: lines.join('\n') };
}

function kubectlDryRun(objs: Manifest[], namespace: string): { status: number | null; out: string } {
  const r = spawnSync(
    KUBECTL,
    [
      '--kubeconfig',
      files(clusterConfig()).kubeconfig,
      'apply',
      '--dry-run=server',
      '-n',
      namespace,
      '-f',
      '-',
    ],
    { input: objs.map((o) => `---\n${stringify(o)}`).join(''), encoding: 'utf8' },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('helm chart deploy/helm/kanary', () => {
  it('helm lint passes with the defaults and every ci/ values file', async () => {
    for (const v of [undefined, ...VALUES]) {
      const r = await helm(['lint', CHART, '--strict', ...(v ? ['--values', join(CHART, 'ci', v)] : [])]);
      assert.equal(r.status, 0, `helm lint ${v ?? '(defaults)'}:\n${r.stdout}${r.stderr}`);
    }
  });

  for (const v of VALUES)
    it(`ci/${v}: helm template, the install's requirements, ${HAS_KUBECTL ? 'kubectl apply --dry-run=server' : 'server dry run (no kubectl: through the API)'}`, async (t) => {
      const ns = await testNamespace(t, 'chart');
      const objs = await helmTemplate({ namespace: ns.name, valuesFiles: [`ci/${v}`], includeCrds: true });
      // biome-ignore lint/suspicious/noExplicitAny: the values files' own shape, read as written
      const vals = (parse(readFileSync(join(CHART, 'ci', v), 'utf8')) ?? {}) as Record<string, any>;
      const ctrl = component(objs, 'controller');
      assert.ok(ctrl, 'a controller Deployment');
      const c = ctrl.spec.template.spec.containers[0]!;
      assert.equal(c.args[0], 'controller');
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
      const replicas = vals.controller?.replicas ?? 2;
      assert.equal(ctrl.spec.replicas, replicas);
      const leaderElect = vals.controller?.leaderElection?.enabled ?? true;
      assert.equal(c.args.includes('--leader-elect'), leaderElect);
      for (const w of [...byKind(objs, 'Deployment'), ...byKind(objs, 'DaemonSet')])
        checkLockedDown(w as Workload);

      // the flags the chart passes exist: `kanary controller --help` / `kanary ingress --help`
      const help = (cmd: string) =>
        spawnSync(process.execPath, [join(ROOT, 'bin', 'kanary.js'), cmd, '--help'], { encoding: 'utf8' })
          .stdout;
      const flagsIn = (text: string) => new Set(text.match(/--[a-z][a-z-]+/g));
      const ctrlFlags = flagsIn(help('controller'));
      for (const a of c.args.slice(1)) {
        const f = /^--[a-z-]+/.exec(a)?.[0];
        if (f) assert.ok(ctrlFlags.has(f), `kanary controller has ${f}`);
      }
      const dp = component(objs, 'dataplane');
      if (vals.dataplane?.enabled === false) assert.equal(dp, undefined, 'no data plane');
      else {
        assert.ok(dp);
        assert.equal(dp.kind, vals.dataplane?.kind ?? 'Deployment');
        const ingressFlags = flagsIn(help('ingress'));
        for (const a of dp.spec.template.spec.containers[0]!.args.slice(1)) {
          const f = /^--[a-z-]+/.exec(a)?.[0];
          if (f) assert.ok(ingressFlags.has(f), `kanary ingress has ${f}`);
        }
        const svc = byKind(objs, 'Service').find((s) => s.metadata.name.endsWith('-ingress')) as
          | (Manifest & { spec: { type: string; ports: { nodePort?: number }[] } })
          | undefined;
        assert.equal(svc?.spec.type, vals.dataplane?.service?.type ?? 'LoadBalancer');
        if (vals.dataplane?.service?.nodePorts?.http)
          assert.equal(String(svc?.spec.ports[0]?.nodePort), vals.dataplane.service.nodePorts.http);
      }
      const namespaced = vals.namespaced === true;
      const clusterTemplates = vals.rbac?.clusterAnalysisTemplates === true;
      const clusterRbac = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');
      if (namespaced) {
        assert.ok(c.args.includes(`--namespace=${ns.name}`));
        assert.equal(c.args.includes('--namespaced'), !clusterTemplates);
        assert.deepEqual(
          clusterRbac.map((o) => o.metadata.name),
          clusterTemplates
            ? ['kanary-controller-cluster-templates', 'kanary-controller-cluster-templates']
            : [],
        );
      } else assert.ok(clusterRbac.length >= 2);
      for (const role of [...byKind(objs, 'Role'), ...byKind(objs, 'ClusterRole')])
        grantsOf((role as unknown as { rules: PolicyRule[] }).rules); // throws on '*'
      if (vals.instanceId) assert.ok(c.args.includes(`--instance-id=${vals.instanceId}`));
      if (vals.ingressClass) assert.ok(c.args.includes(`--ingress-class=${vals.ingressClass}`));
      for (const a of vals.controller?.extraArgs ?? []) assert.ok(c.args.includes(a), `extra arg ${a}`);
      if (vals.image?.repository) assert.equal(c.image, `${vals.image.repository}:${vals.image.tag}`);
      const dash = component(objs, 'dashboard');
      assert.equal(Boolean(dash), vals.dashboard?.enabled === true, 'the dashboard only when enabled');
      if (dash) assert.ok(byKind(objs, 'Secret').some((s) => s.metadata.name.endsWith('-dashboard-token')));
      const monitors = byKind(objs, 'ServiceMonitor');
      assert.equal(monitors.length, vals.serviceMonitor?.enabled ? 1 : 0);
      assert.equal(
        byKind(objs, 'PodDisruptionBudget').length,
        (vals.controller?.pdb?.enabled === false ? 0 : 1) + (dp ? 1 : 0),
      );

      // the API server accepts every object (the ServiceMonitor's CRD is not in the local cluster:
      // it is checked by shape above, not dry-run)
      const sent = objs.filter((o) => o.kind !== 'ServiceMonitor');
      const r = await dryRun(sent, ns.name);
      assert.equal(r.status, 0, `kubectl apply --dry-run=server:\n${r.out}`);
      const accepted = r.out.split('\n').filter((l) => l.endsWith('(server dry run)'));
      assert.equal(accepted.length, sent.length, `every object accepted:\n${r.out}`);
      t.diagnostic(
        `${objs.length} objects rendered; ${accepted.length} accepted by the API server (server dry run)`,
      );
    });

  it('refuses values it cannot honour with a message naming the value', async () => {
    for (const [set, message] of [
      ['dataplane.kind=StatefulSet', /dataplane.kind must be Deployment or DaemonSet/],
      ['dataplane.service.type=ClusterIP', /dataplane.service.type must be LoadBalancer or NodePort/],
    ] as const) {
      const r = await helm(['template', 'kanary', CHART, '--set', set]);
      assert.notEqual(r.status, 0, set);
      assert.match(r.stderr, message);
    }
  });

  it('deploy/install/ is what the chart renders (scripts/render-install.sh --check), CRDs are deploy/crds', async () => {
    await helmBinary();
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'render-install.sh'), '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });
});
