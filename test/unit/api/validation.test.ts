import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { Rollout } from '../../../src/api/types.ts';
import { validateRollout, validateRolloutReferences } from '../../../src/api/validation.ts';
import { upstreamPath } from '../../support/upstream.ts';

const LINT = upstreamPath('argo-rollouts', 'pkg/kubectl-argo-rollouts/cmd/lint/testdata');

interface LintFile {
  rollouts: Rollout[];
  services: Record<string, V1Service>;
  ingresses: Record<string, V1Ingress>;
}

function loadLint(file: string): LintFile {
  const out: LintFile = { rollouts: [], services: {}, ingresses: {} };
  for (const doc of parseAllDocuments(readFileSync(join(LINT, file), 'utf8'))) {
    const o = doc.toJS() as { kind?: string; apiVersion?: string; metadata?: { name?: string } } | null;
    if (!o) continue;
    if (o.kind === 'Rollout') out.rollouts.push(o as Rollout);
    else if (o.kind === 'Service' && o.metadata?.name) out.services[o.metadata.name] = o as V1Service;
    else if (o.kind === 'Ingress' && o.metadata?.name) out.ingresses[o.metadata.name] = o as V1Ingress;
  }
  return out;
}

/** What lint does per file: spec validation, then the references the file itself contains. */
function lint(file: string): string | undefined {
  const f = loadLint(file);
  for (const r of f.rollouts) {
    const spec = validateRollout(r);
    if (!spec.ok) return spec.message;
    // lint only looks at Ingresses that route to the rollout's stable Service
    const stable = r.spec?.strategy?.canary?.stableService;
    const ingresses = Object.fromEntries(
      Object.entries(f.ingresses).filter(([, ing]) =>
        (ing.spec?.rules ?? []).some((rule) =>
          rule.http?.paths.some((p) => p.backend.service?.name === stable),
        ),
      ),
    );
    const refs = validateRolloutReferences(r, { services: f.services, ingresses }, { missingIsError: false });
    if (!refs.ok) return refs.message;
  }
  return undefined;
}

describe('lint-testdata (upstream kubectl argo rollouts lint cases)', () => {
  const expected: Record<string, string> = {
    'invalid.yml':
      'spec.strategy.maxSurge: Invalid value: 0: MaxSurge and MaxUnavailable both can not be zero',
    'invalid-multiple-docs.yml':
      'spec.strategy.maxSurge: Invalid value: 0: MaxSurge and MaxUnavailable both can not be zero',
    'invalid-empty-rollout-vsvc.yml':
      "spec.selector: Required value: Rollout has missing field '.spec.selector'",
    'invalid-service-labels.yml':
      'spec.strategy.canary.canaryService: Invalid value: "istio-host-split-canary": Service "istio-host-split-canary" has unmatch label "app" in rollout',
    'invalid-ping-pong.yml':
      'spec.strategy.canary.pingPong.pingService: Invalid value: "ping-service": Service "ping-service" has unmatch label "app" in rollout',
    'invalid-ingress-smi-multi.yml':
      'spec.strategy.canary.canaryService: Invalid value: "rollout-smi-experiment-canary": Service "rollout-smi-experiment-canary" has unmatch label "app" in rollout',
    'invalid-nginx-canary.yml':
      'spec.strategy.steps[1].experiment.templates[0].weight: Invalid value: 20: Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time',
  };
  for (const [file, message] of Object.entries(expected)) {
    it(`${file} fails with Argo's message`, () => assert.equal(lint(file), message));
  }
  const valid = readdirSync(LINT).filter((f) => f.startsWith('valid'));
  it('has the valid fixtures', () => assert.ok(valid.length >= 10, `found ${valid.length}`));
  for (const file of valid) {
    it(`${file} passes`, () => assert.equal(lint(file), undefined));
  }
});

function base(): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'tomozo', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'tomozo' } },
      template: {
        metadata: { labels: { app: 'tomozo' } },
        spec: { containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.1' }] },
      },
      strategy: {
        canary: {
          stableService: 'tomozo-stable',
          canaryService: 'tomozo-canary',
          trafficRouting: { nginx: { stableIngress: 'tomozo' } },
          steps: [{ setWeight: 10 }, { pause: {} }],
        },
      },
    },
  };
}

type Mutate = (r: Rollout) => void;
const canary = (r: Rollout) =>
  r.spec.strategy?.canary as NonNullable<NonNullable<Rollout['spec']['strategy']>['canary']>;

describe('validateRollout messages', () => {
  const cases: [string, Mutate, string][] = [
    [
      'negative replicas',
      (r) => (r.spec.replicas = -1),
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    ],
    [
      'missing selector',
      (r) => delete r.spec.selector,
      "spec.selector: Required value: Rollout has missing field '.spec.selector'",
    ],
    [
      'empty selector',
      (r) => (r.spec.selector = { matchLabels: {} }),
      'spec.selector: Invalid value: {}: empty selector is invalid for deployment',
    ],
    [
      'selector not matching template labels',
      (r) => (r.spec.selector = { matchLabels: { app: 'other' } }),
      'spec.template.metadata.labels: Invalid value: {"app":"tomozo"}: `selector` does not match template `labels`',
    ],
    [
      'no containers',
      (r) => {
        if (r.spec.template?.spec) r.spec.template.spec.containers = [];
      },
      'spec.template.spec.containers: Required value',
    ],
    [
      'container without image',
      (r) => {
        const c = r.spec.template?.spec?.containers[0];
        if (c) delete c.image;
      },
      'spec.template.spec.containers[0].image: Required value',
    ],
    [
      'restartPolicy other than Always',
      (r) => {
        if (r.spec.template?.spec) r.spec.template.spec.restartPolicy = 'Never';
      },
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ],
    [
      'progressDeadlineSeconds not above minReadySeconds',
      (r) => {
        r.spec.minReadySeconds = 30;
        r.spec.progressDeadlineSeconds = 30;
      },
      'spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds',
    ],
    [
      'no strategy',
      (r) => (r.spec.strategy = {}),
      "spec.strategy.strategy: Required value: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
    ],
    [
      'both strategies',
      (r) => {
        if (r.spec.strategy) r.spec.strategy.blueGreen = { activeService: 'a' };
      },
      'spec.strategy.strategy: Invalid value: "blueGreen: true canary: true": Multiple Strategies can not be listed',
    ],
    [
      'equal stable and canary services',
      (r) => (canary(r).canaryService = 'tomozo-stable'),
      'spec.strategy.stableService: Invalid value: "tomozo-stable": This rollout uses the same service for the stable and canary services, but two different services are required.',
    ],
    [
      'nginx without stableService',
      (r) => delete canary(r).stableService,
      'spec.strategy.stableService: Invalid value: "": Canary service and Stable service must to be set to use Traffic Routing',
    ],
    [
      'nginx without canaryService',
      (r) => delete canary(r).canaryService,
      'spec.strategy.canaryService: Invalid value: "": Canary service and Stable service must to be set to use Traffic Routing',
    ],
    [
      'percent maxSurge and maxUnavailable both zero',
      (r) => {
        canary(r).maxSurge = '0%';
        canary(r).maxUnavailable = 0;
      },
      'spec.strategy.maxSurge: Invalid value: "0%": MaxSurge and MaxUnavailable both can not be zero',
    ],
    [
      'scaleDownDelaySeconds without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).scaleDownDelaySeconds = 30;
      },
      'spec.strategy.scaleDownDelaySeconds: Invalid value: 30: Canary scaleDownDelaySeconds can only be used with traffic routing',
    ],
    [
      'dynamicStableScale without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).dynamicStableScale = true;
      },
      'spec.strategy.dynamicStableScale: Invalid value: true: Canary dynamicStableScale can only be used with traffic routing',
    ],
    [
      'dynamicStableScale with scaleDownDelaySeconds',
      (r) => {
        canary(r).dynamicStableScale = true;
        canary(r).scaleDownDelaySeconds = 10;
      },
      'spec.strategy.dynamicStableScale: Invalid value: true: Canary dynamicStableScale cannot be used with scaleDownDelaySeconds',
    ],
    [
      'maxTrafficWeight with a router other than nginx',
      (r) => (canary(r).trafficRouting = { smi: {}, maxTrafficWeight: 1000 }),
      'spec.strategy.trafficRouting.maxTrafficWeight: Invalid value: 1000: Canary maxTrafficWeight in traffic routing only supported in Nginx and Plugins',
    ],
    [
      'setWeight above 100',
      (r) => (canary(r).steps = [{ setWeight: 101 }]),
      'spec.strategy.steps[0].setWeight: Invalid value: 101: SetWeight needs to be between 0 and 100',
    ],
    [
      'setWeight above maxTrafficWeight',
      (r) => {
        canary(r).trafficRouting = { nginx: { stableIngress: 'tomozo' }, maxTrafficWeight: 1000 };
        canary(r).steps = [{ setWeight: 1001 }];
      },
      'spec.strategy.steps[0].setWeight: Invalid value: 1001: SetWeight needs to be between 0 and 1000',
    ],
    [
      'negative setWeight',
      (r) => (canary(r).steps = [{ setWeight: -5 }]),
      'spec.strategy.steps[0].setWeight: Invalid value: -5: SetWeight needs to be between 0 and 100',
    ],
    [
      'bad pause duration',
      (r) => (canary(r).steps = [{ setWeight: 5 }, { pause: { duration: '10x' } }]),
      'spec.strategy.steps[1].pause.duration: Invalid value: -1: Duration needs to be greater than 0',
    ],
    [
      'negative pause duration',
      (r) => (canary(r).steps = [{ pause: { duration: '-5s' } }]),
      'spec.strategy.steps[0].pause.duration: Invalid value: -5: Duration needs to be greater than 0',
    ],
    [
      'empty step',
      (r) => (canary(r).steps = [{}]),
      'spec.strategy.steps[0]: Invalid value: "step.Experiment: true step.Pause: true step.SetWeight: true step.Analysis: true step.SetCanaryScale: true step.SetHeaderRoute: true step.SetMirrorRoute: true step.Plugin: true": Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause',
    ],
    [
      'two kinds in one step',
      (r) => (canary(r).steps = [{ setWeight: 10, pause: {} }]),
      'spec.strategy.steps[0]: Invalid value: "step.Experiment: false step.Pause: true step.SetWeight: true step.Analysis: false": Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause',
    ],
    [
      'setCanaryScale without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [{ setCanaryScale: { replicas: 1 } }];
      },
      'spec.strategy.trafficRouting: Required value: SetCanaryScale requires TrafficRouting to be set',
    ],
    [
      'setHeaderRoute without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [
          {
            setHeaderRoute: {
              name: 'h',
              match: [{ headerName: 'X-Canary', headerValue: { exact: 'yes' } }],
            },
          },
        ];
      },
      'spec.strategy.steps[0].setHeaderRoute: Invalid value: {"name":"h","match":[{"headerName":"X-Canary","headerValue":{"exact":"yes"}}]}: SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
    ],
    [
      'setMirrorRoute without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [{ setMirrorRoute: { name: 'm' } }];
      },
      'spec.strategy.steps[0].setMirrorRoute: Invalid value: {"name":"m"}: SetMirrorRoute requires TrafficRouting, supports Istio and Plugins',
    ],
    [
      'experiment weight without traffic routing',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [{ experiment: { templates: [{ name: 'a', weight: 10 }] } }];
      },
      'spec.strategy.steps[0].experiment.templates[0].weight: Invalid value: 10: Experiment template weight cannot be set unless TrafficRouting is enabled',
    ],
    [
      'antiAffinity with both strategies',
      (r) =>
        (canary(r).antiAffinity = {
          preferredDuringSchedulingIgnoredDuringExecution: { weight: 10 },
          requiredDuringSchedulingIgnoredDuringExecution: {},
        }),
      'spec.strategy.antiAffinity: Invalid value: "antiAffinity.PreferredDuringSchedulingIgnoredDuringExecution: true antiAffinity.RequiredDuringSchedulingIgnoredDuringExecution: true": AntiAffinity must have exactly one strategy listed',
    ],
    [
      'antiAffinity weight out of range',
      (r) => (canary(r).antiAffinity = { preferredDuringSchedulingIgnoredDuringExecution: { weight: 101 } }),
      'spec.strategy.antiAffinity.weight: Invalid value: 101: AntiAffinity weight must be between 1-100',
    ],
    [
      'bad label key in selector',
      (r) => {
        r.spec.selector = { matchLabels: { 'bad key': 'x' } };
        if (r.spec.template?.metadata) r.spec.template.metadata.labels = { 'bad key': 'x' };
      },
      `spec.selector.matchLabels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    ],
    // values that field.Error prints as json.Marshal output (checked against kubectl-argo-rollouts lint)
    [
      'template labels JSON escapes',
      (r) => {
        if (r.spec.template?.metadata) r.spec.template.metadata.labels = { app: 'a&b' };
      },
      'spec.template.metadata.labels: Invalid value: {"app":"a\\u0026b"}: `selector` does not match template `labels`',
    ],
    [
      'no template labels (a nil map)',
      (r) => delete r.spec.template?.metadata?.labels,
      'spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`',
    ],
    [
      'bad template label value (at ValidatePodTemplateSpec path)',
      (r) => {
        if (r.spec.template?.metadata) r.spec.template.metadata.labels = { app: 'tomozo', tier: '-web' };
      },
      `spec.template.labels: Invalid value: "-web": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    ],
    [
      'setHeaderRoute without traffic routing: headerValue is null when absent',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [
          {
            setHeaderRoute: {
              name: 'h',
              match: [
                { headerName: 'X-Canary', headerValue: { exact: 'always' } },
                { headerName: 'X-<Beta>' },
              ],
            },
          },
        ];
      },
      'spec.strategy.steps[0].setHeaderRoute: Invalid value: {"name":"h","match":[{"headerName":"X-Canary","headerValue":{"exact":"always"}},{"headerName":"X-\\u003cBeta\\u003e","headerValue":null}]}: SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix',
    ],
    [
      'setMirrorRoute without traffic routing: fields in struct order, header keys sorted',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [
          {
            setMirrorRoute: {
              name: 'm',
              percentage: 50,
              match: [
                {
                  method: { exact: 'GET' },
                  path: { prefix: '/api' },
                  headers: { 'x-b': { regex: 'a.*' }, 'x-a': { exact: '1' } },
                },
              ],
            },
          },
        ];
      },
      'spec.strategy.steps[0].setMirrorRoute: Invalid value: {"name":"m","match":[{"method":{"exact":"GET"},"path":{"prefix":"/api"},"headers":{"x-a":{"exact":"1"},"x-b":{"regex":"a.*"}}}],"percentage":50}: SetMirrorRoute requires TrafficRouting, supports Istio and Plugins',
    ],
    [
      'empty setMirrorRoute: name has no omitempty',
      (r) => {
        delete canary(r).trafficRouting;
        canary(r).steps = [{ setMirrorRoute: {} }];
      },
      'spec.strategy.steps[0].setMirrorRoute: Invalid value: {"name":""}: SetMirrorRoute requires TrafficRouting, supports Istio and Plugins',
    ],
    [
      'wrong JSON type is reported, not thrown',
      (r) => ((r.spec as Record<string, unknown>).replicas = 'three'),
      'spec.replicas: Invalid value: "\\"three\\"": must be an integer',
    ],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const r = base();
      mutate(r);
      const res = validateRollout(r);
      assert.equal(res.ok, false, 'expected an error');
      if (!res.ok) assert.equal(res.message, message);
    });
  }

  it('accepts the issue scenario', () => assert.deepEqual(validateRollout(base()), { ok: true }));

  it('accepts fields it does not implement (analysis, plugin step, canaryMetadata)', () => {
    const r = base();
    canary(r).analysis = { templates: [{ templateName: 'x' }] };
    canary(r).canaryMetadata = { labels: { role: 'canary' } };
    canary(r).steps = [
      { setWeight: 10 },
      { analysis: { templates: [] } },
      { plugin: { name: 'p' } },
      { pause: {} },
    ];
    assert.deepEqual(validateRollout(r), { ok: true });
  });

  it('reports the field of the first error', () => {
    const r = base();
    r.spec.replicas = -1;
    const res = validateRollout(r);
    assert.equal(res.ok ? undefined : res.field, 'spec.replicas');
  });

  for (const input of [
    null,
    42,
    'rollout',
    [],
    { spec: 'x' },
    { spec: { strategy: { canary: { steps: 'x' } } } },
  ]) {
    it(`never throws on ${JSON.stringify(input)}`, () => {
      const res = validateRollout(input);
      assert.equal(res.ok, false);
    });
  }
});

function svc(
  name: string,
  selector: Record<string, string>,
  annotations?: Record<string, string>,
): V1Service {
  return { metadata: { name, annotations }, spec: { selector } };
}

function ingress(name: string, backend: string): V1Ingress {
  return {
    metadata: { name },
    spec: {
      rules: [
        {
          host: 'tomozo.tokyo',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: backend, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('validateRolloutReferences (controller mode: missing objects are errors)', () => {
  const good = () => ({
    services: {
      'tomozo-stable': svc('tomozo-stable', { app: 'tomozo' }),
      'tomozo-canary': svc('tomozo-canary', { app: 'tomozo' }),
    } as Record<string, V1Service | undefined>,
    ingresses: { tomozo: ingress('tomozo', 'tomozo-stable') } as Record<string, V1Ingress | undefined>,
  });
  type Refs = ReturnType<typeof good>;
  const cases: [string, (r: Rollout, refs: Refs) => void, string][] = [
    [
      'missing stable service',
      (_r, refs) => delete refs.services['tomozo-stable'],
      'spec.strategy.canary.stableService: Invalid value: "tomozo-stable": service "tomozo-stable" not found',
    ],
    [
      'missing canary service',
      (_r, refs) => (refs.services['tomozo-canary'] = undefined),
      'spec.strategy.canary.canaryService: Invalid value: "tomozo-canary": service "tomozo-canary" not found',
    ],
    [
      'both stableIngress and stableIngresses',
      (r) => {
        const nginx = canary(r).trafficRouting?.nginx;
        if (nginx) nginx.stableIngresses = ['tomozo'];
      },
      'spec.strategy.canary.trafficRouting.nginx: Internal error: Either StableIngress or StableIngresses must be configured. Both are configured.',
    ],
    [
      'neither stableIngress nor stableIngresses',
      (r) => (canary(r).trafficRouting = { nginx: {} }),
      'spec.strategy.canary.trafficRouting.nginx: Internal error: Either StableIngress or StableIngresses must be configured. Neither are configured.',
    ],
    [
      'missing stable ingress',
      (_r, refs) => delete refs.ingresses.tomozo,
      'spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: "tomozo": ingress.networking.k8s.io "tomozo" not found',
    ],
    [
      'missing one of stableIngresses',
      (r) => (canary(r).trafficRouting = { nginx: { stableIngresses: ['tomozo', 'other'] } }),
      'spec.strategy.canary.trafficRouting.nginx.StableIngresses: Invalid value: ["tomozo","other"]: ingress.networking.k8s.io "other" not found',
    ],
    [
      'ingress not pointing at the stable service',
      (_r, refs) => (refs.ingresses.tomozo = ingress('tomozo', 'something-else')),
      'spec.strategy.canary.trafficRouting.nginx.stableIngress: Invalid value: "tomozo": ingress `tomozo` has no rules using service tomozo-stable backend',
    ],
    [
      'one of stableIngresses not pointing at the stable service',
      (r, refs) => {
        canary(r).trafficRouting = { nginx: { stableIngresses: ['tomozo', 'other'] } };
        refs.ingresses.other = ingress('other', 'nope');
      },
      'spec.strategy.canary.trafficRouting.nginx.stableIngresses: Invalid value: "other": ingress `other` has no rules using service tomozo-stable backend',
    ],
    [
      'service selecting labels the template lacks',
      (_r, refs) => (refs.services['tomozo-stable'] = svc('tomozo-stable', { app: 'tomozo', tier: 'web' })),
      'spec.strategy.canary.stableService: Invalid value: "tomozo-stable": Service "tomozo-stable" has unmatch label "tier" in rollout',
    ],
    [
      'service managed by another rollout',
      (_r, refs) =>
        (refs.services['tomozo-canary'] = svc(
          'tomozo-canary',
          { app: 'tomozo' },
          { 'argo-rollouts.argoproj.io/managed-by-rollouts': 'other' },
        )),
      'spec.strategy.canary.canaryService: Invalid value: "tomozo-canary": Service "tomozo-canary" is managed by another Rollout',
    ],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const r = base();
      const refs = good();
      mutate(r, refs);
      const res = validateRolloutReferences(r, refs);
      assert.equal(res.ok ? 'ok' : res.message, message);
    });
  }
  it('accepts correct references', () =>
    assert.deepEqual(validateRolloutReferences(base(), good()), { ok: true }));
  it('ignores the hash label and our own managed-by annotation', () => {
    const refs = good();
    refs.services['tomozo-stable'] = svc(
      'tomozo-stable',
      { app: 'tomozo', 'rollouts-pod-template-hash': 'abc' },
      { 'argo-rollouts.argoproj.io/managed-by-rollouts': 'tomozo' },
    );
    assert.deepEqual(validateRolloutReferences(base(), refs), { ok: true });
  });
  it('accepts a service label provided by stableMetadata', () => {
    const r = base();
    canary(r).stableMetadata = { labels: { role: 'stable' } };
    const refs = good();
    refs.services['tomozo-stable'] = svc('tomozo-stable', { app: 'tomozo', role: 'stable' });
    assert.deepEqual(validateRolloutReferences(r, refs), { ok: true });
  });
});

describe('managed routes through NGINX (Kanary serves them; Argo refuses them for NGINX)', () => {
  const withRoutes = (steps: unknown[]) => {
    const r = base();
    const tr = canary(r).trafficRouting ?? {};
    tr.managedRoutes = [{ name: 'h' }, { name: 'm' }];
    canary(r).trafficRouting = tr;
    canary(r).steps = steps as never;
    return r;
  };
  const header = (headerValue: unknown) => ({
    setHeaderRoute: { name: 'h', match: [{ headerName: 'X-Canary', headerValue }] },
  });
  const refs = (dataPlanes?: { class: string; defaultClass: boolean; namespace: string }[]) => ({
    services: {
      'tomozo-stable': svc('tomozo-stable', { app: 'tomozo' }),
      'tomozo-canary': svc('tomozo-canary', { app: 'tomozo' }),
    },
    ingresses: {
      tomozo: {
        ...ingress('tomozo', 'tomozo-stable'),
        spec: { ...ingress('tomozo', 'tomozo-stable').spec, ingressClassName: 'nginx' },
      },
    },
    dataPlanes: dataPlanes?.map((body) => ({ body })),
  });
  const ok = { ok: true };
  const message = (res: ReturnType<typeof validateRollout>) => (res.ok ? ok : res.message);

  it('accepts setHeaderRoute (exact, prefix, regex; several headers) and setMirrorRoute', () => {
    const r = withRoutes([
      { setWeight: 10 },
      {
        setHeaderRoute: {
          name: 'h',
          match: [
            { headerName: 'X-A', headerValue: { exact: 'yes' } },
            { headerName: 'X-B', headerValue: { prefix: 'be' } },
            { headerName: 'X-C', headerValue: { regex: '^c+$' } },
          ],
        },
      },
      {
        setMirrorRoute: {
          name: 'm',
          percentage: 50,
          match: [{ method: { exact: 'GET' }, path: { prefix: '/' }, headers: { 'X-M': { exact: '1' } } }],
        },
      },
      { setHeaderRoute: { name: 'h' } },
    ]);
    assert.deepEqual(message(validateRollout(r)), ok);
  });
  const cases: [string, unknown[], string][] = [
    [
      'a header value with two kinds',
      [header({ exact: 'a', prefix: 'b' })],
      'StringMatch match value must have exactly one of the following: exact, regex, prefix',
    ],
    [
      'a header value with none',
      [header({})],
      'StringMatch value missed, match value must have one of the following: exact, regex, prefix',
    ],
    [
      'a header without value',
      [header(undefined)],
      'StringMatch value missed, match value must have one of the following: exact, regex, prefix',
    ],
    [
      'a mirror path with two kinds',
      [{ setMirrorRoute: { name: 'm', match: [{ path: { exact: '/', regex: '.' } }] } }],
      'StringMatch match value must have exactly one of the following: exact, regex, prefix',
    ],
    [
      'a mirror header with none (Kanary checks headers too)',
      [{ setMirrorRoute: { name: 'm', match: [{ headers: { 'X-M': {} } }] } }],
      'StringMatch value missed, match value must have one of the following: exact, regex, prefix',
    ],
    [
      'a mirror percentage above 100',
      [{ setMirrorRoute: { name: 'm', percentage: 101, match: [{ method: { exact: 'GET' } }] } }],
      'must be between 0 and 100 (the percentage of matching requests mirrored)',
    ],
    [
      'a route not in managedRoutes',
      [{ setHeaderRoute: { name: 'other', match: [] } }],
      'Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes',
    ],
  ];
  for (const [name, steps, detail] of cases) {
    it(`refuses ${name}`, () => {
      const res = message(validateRollout(withRoutes(steps)));
      assert.equal(typeof res, 'string');
      assert.ok((res as string).startsWith('spec.strategy.steps[0].'), res as string);
      assert.ok((res as string).endsWith(`: ${detail}`), res as string);
    });
  }

  const routed = () => withRoutes([{ setWeight: 10 }, header({ exact: 'yes' })]);
  it('needs a Kanary data plane serving the stable Ingress class in the namespace', () => {
    const res = validateRolloutReferences(routed(), refs([]));
    assert.equal(
      res.ok ? 'ok' : res.message,
      'spec.strategy.canary.steps[1].setHeaderRoute: Forbidden: header and mirror routes through NGINX need Kanary\'s data plane, and no `kanary ingress` replica reports serving ingress class "nginx" (of Ingress "tomozo") for this namespace; the Rollout is not progressed so that no step is skipped',
    );
  });
  it('accepts the class when a report claims it for all namespaces or this one', () => {
    for (const namespace of ['', 'default']) {
      assert.deepEqual(
        validateRolloutReferences(routed(), refs([{ class: 'nginx', defaultClass: false, namespace }])),
        ok,
      );
    }
  });
  it('refuses a report for another class or namespace', () => {
    for (const body of [
      { class: 'other', defaultClass: true, namespace: '' },
      { class: 'nginx', defaultClass: false, namespace: 'elsewhere' },
    ]) {
      assert.equal(validateRolloutReferences(routed(), refs([body])).ok, false);
    }
  });
  it('an Ingress without class needs a replica serving the default class', () => {
    const noClass = refs([{ class: 'nginx', defaultClass: false, namespace: '' }]);
    noClass.ingresses.tomozo = ingress('tomozo', 'tomozo-stable') as never;
    assert.equal(validateRolloutReferences(routed(), noClass).ok, false);
    const byDefault = refs([{ class: 'nginx', defaultClass: true, namespace: '' }]);
    byDefault.ingresses.tomozo = ingress('tomozo', 'tomozo-stable') as never;
    assert.deepEqual(validateRolloutReferences(routed(), byDefault), ok);
  });
  it('does not check without reports (lint) or without route steps', () => {
    assert.deepEqual(validateRolloutReferences(routed(), refs(undefined)), ok);
    assert.deepEqual(validateRolloutReferences(base(), refs([])), ok);
  });
});
