/**
 * `kanary lint` against the real `kubectl-argo-rollouts lint` (v1.10.2, built
 * by hack/argo/build.sh; no cluster): a table of invalid Rollout manifests is
 * written to a temporary folder and both linters check each file. Kanary's
 * first `error:` line must be Argo's `Error:` line exactly, so that the
 * InvalidSpec messages (the same validation code) read as Argo's: field path,
 * error type, the bad value as apimachinery's field.Error renders it (%v, %q
 * or json.Marshal) and Argo's wording.
 *
 * The manifests are written as JSON (which is YAML): Argo reads YAML with 1.1
 * rules, where an unquoted `y`, `n`, `yes` or `on` is a boolean, and JSON
 * quotes every string.
 *
 * Left out on purpose, because Kanary answers differently by design or the
 * difference is being changed elsewhere:
 * - setHeaderRoute / setMirrorRoute with NGINX traffic routing: Kanary accepts
 *   them when its data plane serves the class (its own header and mirror
 *   routes), where Argo says the router is unsupported.
 * - valid manifests that use what Kanary does not run (Istio, SMI, ALB, …
 *   routers, pingPong, workloadRef): Argo's lint passes them, Kanary's lint
 *   adds its "unsupported feature" refusals (`--argo-only` leaves them out).
 * - NGINX with both or neither of stableIngress and stableIngresses: Argo's
 *   lint does not check it (its controller does), Kanary's lint reports the
 *   controller's Internal error.
 * - pingPong with Istio or plugins: Kanary still checks it as an older Argo
 *   did (ALB only, and Istio without destinationRule needing stable/canary
 *   Services even with pingPong), and refuses pingPong and Istio anyway.
 * Every case below has an error in the spec, or in a Service of the same file,
 * that both report before anything else.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ArgoBinaries, argoBinaries } from '../../support/argo.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const KANARY = join(ROOT, 'bin', 'kanary.js');

type Obj = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: the table edits arbitrary manifest fields
type Manifest = any;

/** A valid canary Rollout with NGINX routing (its Services and Ingress are not in the file). */
function canaryRollout(): Manifest {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'lint' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'lint' } },
      template: {
        metadata: { labels: { app: 'lint' } },
        spec: { containers: [{ name: 'web', image: 'example/app:1' }] },
      },
      strategy: {
        canary: {
          stableService: 'lint-stable',
          canaryService: 'lint-canary',
          trafficRouting: { nginx: { stableIngress: 'lint' } },
          steps: [{ setWeight: 10 }, { pause: {} }],
        },
      },
    },
  };
}

/** A valid blue-green Rollout. */
function blueGreenRollout(): Manifest {
  const r = canaryRollout();
  r.spec.strategy = { blueGreen: { activeService: 'lint-active', previewService: 'lint-preview' } };
  return r;
}

/** A canary Rollout without traffic routing (basic canary). */
function basicCanary(): Manifest {
  const r = canaryRollout();
  delete r.spec.strategy.canary.trafficRouting;
  return r;
}

const edit = (r: Manifest, f: (r: Manifest) => void): Manifest => {
  f(r);
  return r;
};

function service(name: string, selector: Record<string, string>): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

interface Case {
  name: string;
  /** the documents of the file, in order */
  docs: Obj[];
}

const cases: Case[] = [
  {
    name: 'template labels do not match the selector',
    docs: [edit(canaryRollout(), (r) => (r.spec.template.metadata.labels = { app: 'other', tier: 'web' }))],
  },
  {
    name: 'template labels that JSON escapes (<, >, &) do not match the selector',
    docs: [edit(canaryRollout(), (r) => (r.spec.template.metadata.labels = { app: 'a&b' }))],
  },
  {
    name: 'no template labels',
    docs: [edit(canaryRollout(), (r) => delete r.spec.template.metadata.labels)],
  },
  {
    name: 'empty selector',
    docs: [edit(canaryRollout(), (r) => (r.spec.selector = { matchLabels: {} }))],
  },
  {
    name: 'missing selector',
    docs: [edit(canaryRollout(), (r) => delete r.spec.selector)],
  },
  {
    name: 'selector with an unknown operator',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.selector.matchExpressions = [{ key: 'app', operator: 'Like', values: ['lint'] }];
      }),
    ],
  },
  {
    name: 'negative replicas',
    docs: [edit(canaryRollout(), (r) => (r.spec.replicas = -1))],
  },
  {
    name: 'negative minReadySeconds',
    docs: [edit(canaryRollout(), (r) => (r.spec.minReadySeconds = -3))],
  },
  {
    name: 'negative revisionHistoryLimit',
    docs: [edit(canaryRollout(), (r) => (r.spec.revisionHistoryLimit = -1))],
  },
  {
    name: 'progressDeadlineSeconds not above minReadySeconds',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.minReadySeconds = 30;
        r.spec.progressDeadlineSeconds = 30;
      }),
    ],
  },
  {
    name: 'no containers',
    docs: [edit(canaryRollout(), (r) => (r.spec.template.spec.containers = []))],
  },
  {
    name: 'container without image',
    docs: [edit(canaryRollout(), (r) => delete r.spec.template.spec.containers[0].image)],
  },
  {
    name: 'container name that is not a DNS label',
    docs: [edit(canaryRollout(), (r) => (r.spec.template.spec.containers[0].name = 'Web_1'))],
  },
  {
    name: 'two containers with one name',
    docs: [
      edit(canaryRollout(), (r) =>
        r.spec.template.spec.containers.push({ name: 'web', image: 'example/sidecar:1' }),
      ),
    ],
  },
  {
    name: 'restartPolicy other than Always',
    docs: [edit(canaryRollout(), (r) => (r.spec.template.spec.restartPolicy = 'OnFailure'))],
  },
  {
    name: 'template label key that is not a qualified name',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.template.metadata.labels['bad key'] = 'v';
      }),
    ],
  },
  {
    name: 'template label value that is not valid',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.template.metadata.labels.tier = '-web';
      }),
    ],
  },
  {
    name: 'no strategy',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy = {}))],
  },
  {
    name: 'both strategies',
    docs: [
      edit(canaryRollout(), (r) => (r.spec.strategy.blueGreen = { activeService: 'a', previewService: 'b' })),
    ],
  },
  {
    name: 'maxSurge and maxUnavailable both 0',
    docs: [
      edit(basicCanary(), (r) => {
        r.spec.strategy.canary.maxSurge = 0;
        r.spec.strategy.canary.maxUnavailable = 0;
      }),
    ],
  },
  {
    name: 'maxSurge 0% and maxUnavailable 0',
    docs: [
      edit(basicCanary(), (r) => {
        r.spec.strategy.canary.maxSurge = '0%';
        r.spec.strategy.canary.maxUnavailable = 0;
      }),
    ],
  },
  {
    name: 'stable and canary Service are the same',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.canaryService = 'lint-stable'))],
  },
  {
    name: 'NGINX routing without stableService',
    docs: [edit(canaryRollout(), (r) => delete r.spec.strategy.canary.stableService)],
  },
  {
    name: 'NGINX routing without canaryService',
    docs: [edit(canaryRollout(), (r) => delete r.spec.strategy.canary.canaryService)],
  },
  {
    name: 'NGINX routing without either Service',
    docs: [
      edit(canaryRollout(), (r) => {
        delete r.spec.strategy.canary.stableService;
        delete r.spec.strategy.canary.canaryService;
      }),
    ],
  },
  {
    name: 'setWeight above 100',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ setWeight: 101 }]))],
  },
  {
    name: 'negative setWeight',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ setWeight: -5 }]))],
  },
  {
    name: 'setWeight above maxTrafficWeight',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.trafficRouting.maxTrafficWeight = 1000;
        r.spec.strategy.canary.steps = [{ setWeight: 1001 }];
      }),
    ],
  },
  {
    name: 'negative pause duration',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ pause: { duration: '-5s' } }]))],
  },
  {
    name: 'negative pause duration in seconds',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ pause: { duration: -7 } }]))],
  },
  {
    name: 'empty step',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ setWeight: 10 }, {}]))],
  },
  {
    name: 'two kinds in one step',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.steps = [{ setWeight: 10, pause: {} }]))],
  },
  {
    name: 'setCanaryScale without traffic routing',
    docs: [
      edit(basicCanary(), (r) => (r.spec.strategy.canary.steps = [{ setCanaryScale: { replicas: 1 } }])),
    ],
  },
  {
    name: 'setHeaderRoute without traffic routing',
    docs: [
      edit(basicCanary(), (r) => {
        r.spec.strategy.canary.steps = [
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
      }),
    ],
  },
  {
    name: 'setHeaderRoute without traffic routing, name only',
    docs: [edit(basicCanary(), (r) => (r.spec.strategy.canary.steps = [{ setHeaderRoute: { name: 'h' } }]))],
  },
  {
    name: 'setMirrorRoute without traffic routing',
    docs: [
      edit(basicCanary(), (r) => {
        r.spec.strategy.canary.steps = [
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
      }),
    ],
  },
  ...(
    [
      [
        'a header value with two kinds',
        {
          setHeaderRoute: {
            name: 'h',
            match: [{ headerName: 'X', headerValue: { exact: 'a', prefix: 'b' } }],
          },
        },
      ],
      [
        'a header value with none',
        { setHeaderRoute: { name: 'h', match: [{ headerName: 'X', headerValue: {} }] } },
      ],
      ['a header without value', { setHeaderRoute: { name: 'h', match: [{ headerName: 'X' }] } }],
      [
        'a mirror method with two kinds',
        { setMirrorRoute: { name: 'h', match: [{ method: { exact: 'GET', regex: 'P.*' } }] } },
      ],
      ['a mirror path with none', { setMirrorRoute: { name: 'h', match: [{ path: {} }] } }],
    ] as const
  ).map(([what, step]) => ({
    // Istio: Argo's StringMatch checks apply (Kanary refuses Istio itself, after Argo's validation)
    name: `Istio, ${what}`,
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.trafficRouting = {
          istio: { virtualService: { name: 'vs' } },
          managedRoutes: [{ name: 'h' }],
        };
        r.spec.strategy.canary.steps = [step];
      }),
    ],
  })),
  ...(
    [
      ['a prefix value', { prefix: 'b' }],
      ['no value kind', {}],
      ['exact and regex', { exact: 'a', regex: 'b' }],
    ] as const
  ).map(([what, headerValue]) => ({
    name: `ALB header route, ${what}`,
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.trafficRouting = {
          alb: { ingress: 'ing', servicePort: 80 },
          managedRoutes: [{ name: 'h' }],
        };
        r.spec.strategy.canary.steps = [
          { setHeaderRoute: { name: 'h', match: [{ headerName: 'X', headerValue }] } },
        ];
      }),
    ],
  })),
  {
    name: 'setMirrorRoute without traffic routing, empty',
    docs: [edit(basicCanary(), (r) => (r.spec.strategy.canary.steps = [{ setMirrorRoute: {} }]))],
  },
  {
    name: 'experiment template weight without traffic routing',
    docs: [
      edit(basicCanary(), (r) => {
        r.spec.strategy.canary.steps = [
          { experiment: { templates: [{ name: 'a', specRef: 'canary', weight: 10 }] } },
        ];
      }),
    ],
  },
  {
    name: 'experiment template weight with NGINX',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.steps = [
          { setWeight: 10 },
          { experiment: { templates: [{ name: 'a', specRef: 'canary', weight: 20 }] } },
        ];
      }),
    ],
  },
  {
    name: 'scaleDownDelaySeconds without traffic routing',
    docs: [edit(basicCanary(), (r) => (r.spec.strategy.canary.scaleDownDelaySeconds = 30))],
  },
  {
    name: 'dynamicStableScale without traffic routing',
    docs: [edit(basicCanary(), (r) => (r.spec.strategy.canary.dynamicStableScale = true))],
  },
  {
    name: 'dynamicStableScale with scaleDownDelaySeconds',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.dynamicStableScale = true;
        r.spec.strategy.canary.scaleDownDelaySeconds = 10;
      }),
    ],
  },
  {
    name: 'maxTrafficWeight with SMI',
    docs: [
      edit(
        canaryRollout(),
        (r) => (r.spec.strategy.canary.trafficRouting = { smi: {}, maxTrafficWeight: 1000 }),
      ),
    ],
  },
  {
    name: 'pingPong with NGINX',
    docs: [
      edit(canaryRollout(), (r) => {
        delete r.spec.strategy.canary.stableService;
        delete r.spec.strategy.canary.canaryService;
        r.spec.strategy.canary.pingPong = { pingService: 'ping', pongService: 'pong' };
      }),
    ],
  },
  {
    name: 'pingPong with the same Service twice',
    docs: [
      edit(basicCanary(), (r) => {
        delete r.spec.strategy.canary.stableService;
        delete r.spec.strategy.canary.canaryService;
        r.spec.strategy.canary.pingPong = { pingService: 'ping', pongService: 'ping' };
      }),
    ],
  },
  {
    name: 'pingPong without pongService',
    docs: [
      edit(basicCanary(), (r) => {
        delete r.spec.strategy.canary.stableService;
        delete r.spec.strategy.canary.canaryService;
        r.spec.strategy.canary.pingPong = { pingService: 'ping' };
      }),
    ],
  },
  {
    name: 'canary antiAffinity with both strategies',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.antiAffinity = {
          preferredDuringSchedulingIgnoredDuringExecution: { weight: 50 },
          requiredDuringSchedulingIgnoredDuringExecution: {},
        };
      }),
    ],
  },
  {
    name: 'canary antiAffinity with no strategy',
    docs: [edit(canaryRollout(), (r) => (r.spec.strategy.canary.antiAffinity = {}))],
  },
  {
    name: 'canary antiAffinity weight above 100',
    docs: [
      edit(canaryRollout(), (r) => {
        r.spec.strategy.canary.antiAffinity = {
          preferredDuringSchedulingIgnoredDuringExecution: { weight: 101 },
        };
      }),
    ],
  },
  {
    name: 'blue-green active and preview Service are the same',
    docs: [edit(blueGreenRollout(), (r) => (r.spec.strategy.blueGreen.previewService = 'lint-active'))],
  },
  {
    name: 'blue-green without any Service',
    docs: [edit(blueGreenRollout(), (r) => (r.spec.strategy.blueGreen = { autoPromotionEnabled: false }))],
  },
  {
    name: 'blue-green scaleDownDelayRevisionLimit above revisionHistoryLimit',
    docs: [
      edit(blueGreenRollout(), (r) => {
        r.spec.revisionHistoryLimit = 2;
        r.spec.strategy.blueGreen.scaleDownDelayRevisionLimit = 3;
      }),
    ],
  },
  {
    name: 'blue-green antiAffinity weight 0',
    docs: [
      edit(blueGreenRollout(), (r) => {
        r.spec.strategy.blueGreen.antiAffinity = {
          preferredDuringSchedulingIgnoredDuringExecution: { weight: 0 },
        };
      }),
    ],
  },
  {
    name: 'canary Service in the file whose selector the template does not match',
    docs: [
      canaryRollout(),
      service('lint-stable', { app: 'lint' }),
      service('lint-canary', { app: 'lint', track: 'canary' }),
    ],
  },
  {
    name: 'blue-green Service in the file whose selector the template does not match',
    docs: [
      blueGreenRollout(),
      service('lint-active', { app: 'other' }),
      service('lint-preview', { app: 'lint' }),
    ],
  },
];

/** The file's text: JSON documents separated by `---`. */
const fileText = (docs: Obj[]) => docs.map((d) => JSON.stringify(d, null, 2)).join('\n---\n');

let bins: ArgoBinaries;
let dir: string;

before(
  async () => {
    bins = await argoBinaries();
  },
  { timeout: 60 * 60_000 }, // a cold build compiles Argo Rollouts (see docs/benchmarks.md)
);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kanary-lint-parity-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (res.error) throw res.error;
  return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

describe('kanary lint says what kubectl-argo-rollouts lint says', { concurrency: 4 }, () => {
  it('has a table of at least 15 cases', () => assert.ok(cases.length >= 15));
  cases.forEach((c, i) => {
    it(c.name, () => {
      const file = join(dir, `case-${String(i).padStart(2, '0')}.yaml`);
      writeFileSync(file, fileText(c.docs));
      const argo = run(bins.plugin, ['lint', '-f', file]);
      const argoError = argo.out.split('\n').find((l) => l.startsWith('Error: '));
      assert.ok(
        argo.status === 1 && argoError,
        `kubectl-argo-rollouts lint did not reject the case (exit ${argo.status}):\n${argo.out}`,
      );
      const kanary = run(process.execPath, [KANARY, 'lint', '-f', file]);
      const kanaryError = kanary.out.split('\n').find((l) => l.startsWith('error: '));
      assert.equal(kanary.status, 1, `kanary lint did not reject the case:\n${kanary.out}`);
      assert.equal(
        kanaryError?.slice('error: '.length),
        argoError.slice('Error: '.length),
        `--- ${file}\n--- kubectl-argo-rollouts lint:\n${argo.out}--- kanary lint:\n${kanary.out}`,
      );
    });
  });
});
