import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePodTemplateSpec } from '../../../src/api/gojson.ts';
import { computePodTemplateHash, computeStepHash, fnv32a, safeEncode } from '../../../src/api/hash.ts';
import { canonicalQuantity } from '../../../src/api/quantity.ts';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';

/**
 * Goldens produced by Go (k8s.io/api v0.36, encoding/json, hash/fnv and
 * rand.SafeEncodeString) with `"creationTimestamp":null` kept in metadata as
 * Argo does; the first one is the value Argo's own hash_test pins (7bb4fbc896).
 */
const GOLDENS: { name: string; template: unknown; goJson: string; hash: string }[] = [
  {
    name: 'upstream hash_test template (pins the pre-omitzero creationTimestamp)',
    template: {
      metadata: { labels: { name: 'red' } },
      spec: {
        containers: [
          {
            name: 'red',
            image: 'red',
            imagePullPolicy: 'Always',
            terminationMessagePath: '/dev/termination-log',
          },
        ],
        dnsPolicy: 'ClusterFirst',
        restartPolicy: 'Always',
        securityContext: {},
      },
    },
    goJson:
      '{"metadata":{"creationTimestamp":null,"labels":{"name":"red"}},"spec":{"containers":[{"name":"red","image":"red","resources":{},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"Always"}],"restartPolicy":"Always","dnsPolicy":"ClusterFirst","securityContext":{}}}',
    hash: '7bb4fbc896',
  },
  {
    name: 'issue scenario, image 0.0.1',
    template: {
      metadata: { labels: { app: 'tomozo' } },
      spec: {
        serviceAccountName: 'tomozo',
        containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.1' }],
      },
    },
    goJson:
      '{"metadata":{"creationTimestamp":null,"labels":{"app":"tomozo"}},"spec":{"containers":[{"name":"tomozo","image":"tomozo-repo/tomozo:0.0.1","resources":{}}],"serviceAccountName":"tomozo"}}',
    hash: '76cbb4c6b8',
  },
  {
    name: 'issue scenario, image 0.0.2',
    template: {
      metadata: { labels: { app: 'tomozo' } },
      spec: {
        serviceAccountName: 'tomozo',
        containers: [{ name: 'tomozo', image: 'tomozo-repo/tomozo:0.0.2' }],
      },
    },
    goJson:
      '{"metadata":{"creationTimestamp":null,"labels":{"app":"tomozo"}},"spec":{"containers":[{"name":"tomozo","image":"tomozo-repo/tomozo:0.0.2","resources":{}}],"serviceAccountName":"tomozo"}}',
    hash: '576ff85849',
  },
  {
    name: 'ports, probes, env, volumes, quantities, HTML escapes, unknown field',
    template: {
      metadata: { labels: { app: 'nginx-rollout' }, annotations: { 'a/b': '<x & y>' } },
      spec: {
        containers: [
          {
            name: 'nginx-rollout',
            image: 'argoproj/rollouts-demo:blue',
            ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
            resources: { requests: { memory: '16Mi', cpu: '5m' }, limits: { cpu: 0.5, memory: '1024Mi' } },
            readinessProbe: { httpGet: { path: '/ping', port: 8080 }, periodSeconds: 5 },
            livenessProbe: { tcpSocket: { port: 'http' }, initialDelaySeconds: 0 },
            env: [
              { name: 'A', value: '' },
              { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            volumeMounts: [{ name: 'v', mountPath: '/data', readOnly: false }],
          },
        ],
        volumes: [
          { name: 'v', emptyDir: {} },
          { name: 'c', configMap: { name: 'cm', defaultMode: 420 } },
        ],
        terminationGracePeriodSeconds: 30,
        automountServiceAccountToken: false,
        nodeSelector: { z: '1', a: '2' },
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
        unknownField: 'dropped',
      },
    },
    goJson:
      '{"metadata":{"creationTimestamp":null,"labels":{"app":"nginx-rollout"},"annotations":{"a/b":"\\u003cx \\u0026 y\\u003e"}},"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"c","configMap":{"name":"cm","defaultMode":420}}],"containers":[{"name":"nginx-rollout","image":"argoproj/rollouts-demo:blue","ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],"env":[{"name":"A"},{"name":"B","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],"resources":{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"5m","memory":"16Mi"}},"volumeMounts":[{"name":"v","mountPath":"/data"}],"livenessProbe":{"tcpSocket":{"port":"http"}},"readinessProbe":{"httpGet":{"path":"/ping","port":8080},"periodSeconds":5}}],"terminationGracePeriodSeconds":30,"nodeSelector":{"a":"2","z":"1"},"automountServiceAccountToken":false,"tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule"}]}}',
    hash: '5879b84d4b',
  },
  {
    name: 'empty metadata and containers',
    template: { metadata: {}, spec: { containers: [] } },
    goJson: '{"metadata":{"creationTimestamp":null},"spec":{"containers":[]}}',
    hash: '54dc96fb8c',
  },
  {
    name: 'empty template',
    template: {},
    goJson: '{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}',
    hash: '76bbb58f74',
  },
  {
    name: 'init containers, affinity, non-canonical quantities, empty args',
    template: {
      metadata: { labels: { app: 'x' } },
      spec: {
        containers: [
          {
            name: 'x',
            image: 'x',
            args: [],
            command: null,
            resources: { requests: { cpu: '1000m', memory: '1.5Gi', 'ephemeral-storage': '1500000' } },
          },
        ],
        initContainers: [{ name: 'i', image: 'i', restartPolicy: 'Always' }],
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: { app: 'x' } },
                },
              },
            ],
          },
        },
      },
    },
    goJson:
      '{"metadata":{"creationTimestamp":null,"labels":{"app":"x"}},"spec":{"initContainers":[{"name":"i","image":"i","resources":{},"restartPolicy":"Always"}],"containers":[{"name":"x","image":"x","resources":{"requests":{"cpu":"1","ephemeral-storage":"1500k","memory":"1536Mi"}}}],"affinity":{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"x"}},"topologyKey":"kubernetes.io/hostname"}}]}}}}',
    hash: '68bbb456b4',
  },
];

describe('pod-template hash matches Argo Rollouts (Go encoding + FNV-1a)', () => {
  for (const g of GOLDENS) {
    it(`${g.name}: Go JSON`, () => assert.equal(encodePodTemplateSpec(g.template), g.goJson));
    it(`${g.name}: hash ${g.hash}`, () => assert.equal(computePodTemplateHash(g.template), g.hash));
  }

  it('is stable: same template, same hash, whatever the key order', () => {
    const a = {
      spec: { containers: [{ image: 'x:1', name: 'x' }] },
      metadata: { labels: { b: '2', a: '1' } },
    };
    const b = {
      metadata: { labels: { a: '1', b: '2' } },
      spec: { containers: [{ name: 'x', image: 'x:1' }] },
    };
    assert.equal(computePodTemplateHash(a), computePodTemplateHash(b));
  });

  it('changes with the template', () => {
    const t = (image: string) => ({ spec: { containers: [{ name: 'x', image }] } });
    assert.notEqual(computePodTemplateHash(t('x:1')), computePodTemplateHash(t('x:2')));
  });

  it('changes with the collision count, and count 0 differs from none', () => {
    const t = GOLDENS[0]?.template;
    const none = computePodTemplateHash(t);
    assert.notEqual(computePodTemplateHash(t, 0), none);
    assert.notEqual(computePodTemplateHash(t, 1), computePodTemplateHash(t, 0));
  });

  it('is a valid label value', () => {
    for (const g of GOLDENS) assert.match(computePodTemplateHash(g.template, 3), /^[a-z0-9]{1,10}$/);
  });
});

describe('FNV-1a and safe encoding', () => {
  const cases: [string, number][] = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ];
  for (const [input, want] of cases) {
    it(`fnv32a(${JSON.stringify(input)})`, () => assert.equal(fnv32a(new TextEncoder().encode(input)), want));
  }
  it('maps digits by char code into the vowel-free alphabet', () =>
    assert.equal(safeEncode('0123456789'), '456789bcdf'));
});

describe('canonical quantities (as Go re-serializes them)', () => {
  // expected values printed by Go's resource.Quantity MarshalJSON
  const cases: [string | number, string][] = [
    ['0.5', '500m'],
    ['1000m', '1'],
    ['1.5Gi', '1536Mi'],
    ['1000', '1k'],
    ['1e3', '1e3'],
    ['1024Mi', '1Gi'],
    ['512', '512'],
    ['2048', '2048'],
    ['1536Ki', '1536Ki'],
    ['0.5Ki', '512'],
    ['100M', '100M'],
    ['1.5k', '1500'],
    ['0', '0'],
    ['5m', '5m'],
    ['16Mi', '16Mi'],
    ['1500000', '1500k'],
    ['12e6', '12e6'],
    ['1.1', '1100m'],
    ['0.1m', '100u'],
    ['1234567', '1234567'],
    ['1E', '1E'],
    ['2000Ki', '2000Ki'],
    [0.5, '500m'],
    [2, '2'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(canonicalQuantity(input), want));
  }
});

describe('step hash', () => {
  const rollout = (steps: CanaryStep[] | undefined): Rollout => ({
    metadata: { name: 'r' },
    spec: { strategy: { canary: { steps } } },
  });
  // hashes of the Go JSON of []CanaryStep, computed with Go's hash/fnv
  const cases: [string, CanaryStep[] | undefined, string][] = [
    ['setWeight and indefinite pause', [{ setWeight: 10 }, { pause: {} }], '849b756fd4'],
    ['no steps', undefined, '5ffbfbbd64'],
    ['empty list hashes like no steps', [], '5ffbfbbd64'],
    [
      'durations and setCanaryScale variants',
      [
        { setWeight: 5 },
        { pause: { duration: 30 } },
        { pause: { duration: '1m' } },
        { setCanaryScale: { weight: 25 } },
        { setCanaryScale: { replicas: 3 } },
        { setCanaryScale: { matchTrafficWeight: true } },
      ],
      'cdd965d48',
    ],
  ];
  for (const [name, steps, want] of cases) {
    it(name, () => assert.equal(computeStepHash(rollout(steps)), want));
  }
  it('is empty for blue-green', () => {
    const r = rollout([{ setWeight: 1 }]);
    if (r.spec.strategy) r.spec.strategy.blueGreen = {};
    assert.equal(computeStepHash(r), '');
  });
  it('changes when a step changes', () =>
    assert.notEqual(
      computeStepHash(rollout([{ setWeight: 10 }])),
      computeStepHash(rollout([{ setWeight: 20 }])),
    ));
});
