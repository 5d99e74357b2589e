import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { firstUnknownField, lintText } from '../../../src/cli/commands/lint.ts';
import { LINT_TESTDATA as LINT } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

// The messages upstream's lint test expects (cmd/lint/lint_test.go), after its "Error: " prefix.
const UPSTREAM: Record<string, string> = {
  'invalid.yml': 'spec.strategy.maxSurge: Invalid value: 0: MaxSurge and MaxUnavailable both can not be zero',
  'invalid-empty-rollout-vsvc.yml':
    "spec.selector: Required value: Rollout has missing field '.spec.selector'",
  'invalid-multiple-docs.yml':
    'spec.strategy.maxSurge: Invalid value: 0: MaxSurge and MaxUnavailable both can not be zero',
  'invalid-unknown-field.yml':
    'error unmarshaling JSON: while decoding JSON: json: unknown field "unknown-strategy"',
  'invalid-service-labels.yml':
    'spec.strategy.canary.canaryService: Invalid value: "istio-host-split-canary": Service "istio-host-split-canary" has unmatch label "app" in rollout',
  'invalid-ping-pong.yml':
    'spec.strategy.canary.pingPong.pingService: Invalid value: "ping-service": Service "ping-service" has unmatch label "app" in rollout',
  'invalid-ingress-smi-multi.yml':
    'spec.strategy.canary.canaryService: Invalid value: "rollout-smi-experiment-canary": Service "rollout-smi-experiment-canary" has unmatch label "app" in rollout',
  'invalid-nginx-canary.yml':
    'spec.strategy.steps[1].experiment.templates[0].weight: Invalid value: 20: Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time',
};

/** `--argo-only`: upstream's checks alone, to compare with `kubectl argo rollouts lint`. */
const lintFile = (file: string) => lintText(readFileSync(join(LINT, file), 'utf8'), { argoOnly: true });

describe('lint --argo-only with upstream lint-testdata', () => {
  const files = readdirSync(LINT).filter((f) => /\.ya?ml$/.test(f));
  it('covers every invalid fixture', () => {
    assert.deepEqual(files.filter((f) => f.startsWith('invalid')).sort(), Object.keys(UPSTREAM).sort());
  });
  for (const [file, message] of Object.entries(UPSTREAM)) {
    it(`${file}: upstream's message first`, () => {
      const result = lintFile(file);
      assert.ok(result.rollouts >= 1);
      assert.equal(result.problems[0]?.message, message);
    });
  }
  for (const file of files.filter((f) => f.startsWith('valid'))) {
    it(`${file}: no problems`, () => {
      const result = lintFile(file);
      assert.ok(result.rollouts >= 1);
      assert.deepEqual(result.problems, []);
    });
  }

  it('the command prints the message like upstream and exits 1; valid files print nothing', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin', 'kanary.js'), 'lint', ...args], { encoding: 'utf8' });
    const bad = run('--argo-only', '-f', join(LINT, 'invalid.yml'));
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, `error: ${UPSTREAM['invalid.yml']}\n`);
    const good = run('--argo-only', '-f', join(LINT, 'valid.yml'), '-f', join(LINT, 'valid-blue-green.yml'));
    assert.deepEqual([good.status, good.stdout, good.stderr], [0, '', '']);
  });
});

const ROUTER = (r: string, extra = 'no step runs without its traffic shift') =>
  `spec.strategy.canary.trafficRouting.${r}: Forbidden: ${r} traffic routing is not supported by Kanary (only nginx is); the Rollout is not progressed so that ${extra}`;
const EXPERIMENT =
  'spec.strategy.canary.steps[1].experiment: Forbidden: experiment steps are not supported by Kanary; the Rollout is not progressed so that no step passes unchecked';

/**
 * Without --argo-only lint also says what the controller refuses to run, with
 * the controller's InvalidSpec message first: upstream's "valid" fixtures that
 * use analysis, experiments, blue-green, workloadRef or other routers are not
 * valid for Kanary. Only a spec error (Argo's) stops a Rollout's checks there.
 */
const KANARY: Record<string, string[]> = {
  'invalid.yml': [UPSTREAM['invalid.yml'] as string],
  'invalid-empty-rollout-vsvc.yml': [
    UPSTREAM['invalid-empty-rollout-vsvc.yml'] as string,
    'spec.template.spec.containers: Required value',
    "spec.strategy.strategy: Required value: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
  ],
  'invalid-multiple-docs.yml': [UPSTREAM['invalid-multiple-docs.yml'] as string],
  'invalid-unknown-field.yml': [UPSTREAM['invalid-unknown-field.yml'] as string],
  'invalid-nginx-canary.yml': [UPSTREAM['invalid-nginx-canary.yml'] as string],
  'invalid-service-labels.yml': [UPSTREAM['invalid-service-labels.yml'] as string],
  'invalid-ping-pong.yml': [
    'spec.strategy.canary.pingPong: Forbidden: ping-pong services are not supported by Kanary (they need the ALB router); use stableService and canaryService',
    UPSTREAM['invalid-ping-pong.yml'] as string,
  ],
  'invalid-ingress-smi-multi.yml': [
    ROUTER('smi'),
    EXPERIMENT,
    UPSTREAM['invalid-ingress-smi-multi.yml'] as string,
  ],
  'valid.yml': [],
  'valid-alb-canary.yml': [ROUTER('alb'), EXPERIMENT],
  'valid-blue-green.yml': [],
  'valid-ingress-smi.yml': [ROUTER('smi'), EXPERIMENT],
  'valid-ingress-smi-multi.yml': [ROUTER('smi'), EXPERIMENT],
  'valid-istio-v1alpha3.yml': [ROUTER('istio'), EXPERIMENT],
  'valid-istio-v1beta1.yml': [ROUTER('istio'), EXPERIMENT],
  'valid-istio-v1beta1-mulitiple-virtualsvcs.yml': [ROUTER('istio'), EXPERIMENT],
  'valid-nginx-smi-with-vsvc.yaml': [ROUTER('smi', 'traffic is not shifted on nginx alone')],
  'valid-workload-ref.yaml': [
    'spec.workloadRef: Forbidden: workloadRef is not supported by Kanary; put the pod template in spec.template',
  ],
  'valid-nginx-basic-canary.yml': [],
  'valid-nginx-canary.yml': [],
  'valid-with-another-empty-object.yml': [],
};

describe("lint with upstream lint-testdata: Kanary's refusals too", () => {
  const files = readdirSync(LINT).filter((f) => /\.ya?ml$/.test(f));
  it('covers every fixture', () => {
    assert.deepEqual(files.sort(), Object.keys(KANARY).sort());
  });
  for (const [file, expected] of Object.entries(KANARY)) {
    it(`${file}: ${expected.length === 0 ? 'no problems' : expected[0]}`, () => {
      const result = lintText(readFileSync(join(LINT, file), 'utf8'));
      // a file with several Rollouts reports each one's problems
      const unique = [...new Set(result.problems.map((p) => p.message))];
      assert.deepEqual(unique, expected);
    });
  }
  it('the command exits 1 on a Rollout Kanary cannot run, 0 on one it can', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin', 'kanary.js'), 'lint', ...args], { encoding: 'utf8' });
    const refused = run('-f', join(LINT, 'valid-workload-ref.yaml'));
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, `error: ${KANARY['valid-workload-ref.yaml']?.[0]}\n`);
    const good = run('-f', join(LINT, 'valid-nginx-canary.yml'));
    assert.deepEqual([good.status, good.stdout, good.stderr], [0, '', '']);
  });
});

describe('lint beyond the fixtures', () => {
  const rollout = (extra: string) => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r}}
    spec:
      containers: [{name: r, image: r:1${extra}}]
  strategy: {canary: {steps: [{setWeight: 10}]}}
`;
  it('catches a typo in a container field, like a strict decoder', () => {
    assert.equal(
      lintText(rollout(', imagePullPolicyy: Always')).problems[0]?.message.endsWith(
        'unknown field "imagePullPolicyy"',
      ),
      true,
    );
  });
  it('reports a YAML syntax error instead of crashing', () => {
    assert.match(lintText('spec: [unclosed').problems[0]?.message ?? '', /^invalid YAML: /);
  });
  it('reports every problem, in file order', () => {
    const two = `${rollout('')}---\n${rollout('').replace('name: r}', 'name: s}').replace('setWeight: 10', 'setWeight: 200')}`;
    const result = lintText(two);
    assert.equal(result.rollouts, 2);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]?.rollout, 's');
    assert.match(result.problems[0]?.message ?? '', /SetWeight needs to be between 0 and 100/);
  });
  it('firstUnknownField leaves unlisted types open', () => {
    assert.equal(
      firstUnknownField({ spec: { strategy: { canary: { analysis: { anything: 1 } } } } }),
      undefined,
    );
    assert.equal(
      firstUnknownField({ spec: { strategy: { canary: { steps: [{ pause: { duration: 1, x: 2 } }] } } } }),
      'x',
    );
  });
});

describe('lint: analysis steps against the AnalysisTemplates in the same file', () => {
  const manifest = (templates: string) => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  replicas: 1
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r}}
    spec: {containers: [{name: r, image: nginx}]}
  strategy:
    canary:
      steps:
      - setWeight: 10
      - analysis: {templates: [{templateName: a}, {templateName: b, clusterScope: true}]}
${templates}`;
  const template = (kind: string, name: string, metric: string, count = 'count: 1') => `---
apiVersion: argoproj.io/v1alpha1
kind: ${kind}
metadata: {name: ${name}}
spec:
  metrics:
  - name: ${metric}
    ${count}
    interval: 1s
    successCondition: result == true
    provider: {web: {url: 'http://127.0.0.1/'}}
`;
  it('templates that merge: no problem; templates not in the file: not reported', () => {
    const ok = manifest(
      template('AnalysisTemplate', 'a', 'm1') + template('ClusterAnalysisTemplate', 'b', 'm2'),
    );
    assert.deepEqual(lintText(ok).problems, []);
    assert.deepEqual(lintText(manifest('')).problems, []);
  });
  it('a metric name in two templates, a metric without a count: the controller message', () => {
    const dup = manifest(
      template('AnalysisTemplate', 'a', 'm') + template('ClusterAnalysisTemplate', 'b', 'm'),
    );
    assert.deepEqual(
      lintText(dup).problems.map((p) => p.message),
      [
        `spec.strategy.canary.steps[1].analysis.templates: Invalid value: "templateNames: [a b]": two metrics have the same name 'm'`,
      ],
    );
    assert.deepEqual(
      lintText(dup, { argoOnly: true }).problems,
      [],
      'not a check of kubectl argo rollouts lint',
    );
    const forever = manifest(
      template('AnalysisTemplate', 'a', 'm', '') + template('ClusterAnalysisTemplate', 'b', 'n'),
    );
    assert.deepEqual(
      lintText(forever).problems.map((p) => p.message),
      [
        'spec.strategy.canary.steps[1].analysis.templates: Invalid value: "a": AnalysisTemplate a has metric m which runs indefinitely. Invalid value for count: <nil>',
      ],
    );
  });
});

describe('lint: AnalysisTemplates and ClusterAnalysisTemplates on their own', () => {
  const template = (
    metrics: string,
    args = '',
    kind = 'AnalysisTemplate',
  ) => `apiVersion: argoproj.io/v1alpha1
kind: ${kind}
metadata: {name: t}
spec:
${args}  metrics:
${metrics}`;
  const metric = (fields: string) => `  - name: m
    interval: 1s
    count: 1
${fields
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;
  const WEB = "provider: {web: {url: 'http://127.0.0.1/'}}";
  const lint = (text: string) => lintText(text).problems.map((p) => [p.template, p.message]);

  const table: [what: string, text: string, messages: string[]][] = [
    ['a valid template: no problem', template(metric(`successCondition: result[0] >= 0.95\n${WEB}`)), []],
    [
      'conditions in the expression language Argo uses, with args substituted',
      template(
        metric(
          `successCondition: len(result) == 0 || all(result, {# < {{args.max}}})\nfailureCondition: isNaN(result[0]) or default(result[0], 0) > 1\n${WEB}`,
        ),
        '  args: [{name: max, value: "0.5"}]\n',
      ),
      [],
    ],
    [
      'a syntax error in a condition: the compiler message with the position',
      template(metric(`successCondition: result[0] >= \n${WEB}`)),
      ['spec.metrics[0] (m).successCondition: unexpected token EOF (1:12)\n | result[0] >=\n | ...........^'],
    ],
    [
      'a name a condition may not use',
      template(metric(`failureCondition: value > 1\n${WEB}`)),
      ['spec.metrics[0] (m).failureCondition: unknown name value (1:1)\n | value > 1\n | ^'],
    ],
    [
      'a provider Kanary does not run: the controller refusal',
      template(metric("successCondition: result < 1\nprovider: {datadog: {query: 'x'}}")),
      ['spec.metrics[0] (m): metric provider datadog is not supported by Kanary'],
    ],
    [
      'an argument used but never declared',
      template(metric(`successCondition: result < {{args.max}}\n${WEB}`)),
      [
        'spec.metrics[0] (m): Unable to resolve metric arguments: failed to resolve {{args.max}} (not declared in spec.args)',
      ],
    ],
    [
      'an argument with both value and valueFrom',
      template(
        metric(WEB),
        '  args: [{name: a, value: x, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n',
        'ClusterAnalysisTemplate',
      ),
      ["spec.args[0]: arg 'a' has both Value and ValueFrom fields"],
    ],
    [
      "Argo's metric checks: limits, count without interval, two providers, duplicate names",
      template(
        `${metric(`failureLimit: -2\n${WEB}`)}  - name: n\n    count: 2\n    ${WEB}\n  - name: m\n    provider: {web: {url: x}, prometheus: {query: y}}\n`,
      ),
      [
        'spec.metrics[0] (m): failureLimit must be >= 0, or -1 to be disabled',
        'spec.metrics[1] (n): interval must be specified when count > 1',
        "spec.metrics[2] (m): duplicate name 'm'",
        'spec.metrics[2] (m): multiple providers specified',
      ],
    ],
    ['no metrics', template('    []\n'), ['spec.metrics: Required value: no metrics specified']],
  ];
  for (const [what, text, messages] of table) {
    it(what, () => {
      const kind = text.includes('kind: ClusterAnalysisTemplate')
        ? 'ClusterAnalysisTemplate'
        : 'AnalysisTemplate';
      assert.deepEqual(
        lint(text),
        messages.map((m) => [`${kind} "t"`, m]),
      );
    });
  }

  it("the template checks are Kanary's: --argo-only leaves them out", () => {
    const bad = template(metric("provider: {datadog: {query: 'x'}}"));
    assert.equal(lintText(bad).problems.length, 1);
    assert.deepEqual(lintText(bad, { argoOnly: true }), { rollouts: 0, templates: 0, problems: [] });
  });

  it('a step that does not set an argument of its template in the same file: the controller message', () => {
    const text = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r}}
    spec: {containers: [{name: r, image: nginx}]}
  strategy: {canary: {steps: [{analysis: {templates: [{templateName: t}]}}]}}
---
${template(metric(`successCondition: result < {{args.max}}\n${WEB}`), '  args: [{name: max}]\n')}`;
    assert.deepEqual(
      lintText(text).problems.map((p) => p.message),
      [
        'spec.strategy.canary.steps[0].analysis.templates: Invalid value: "templateNames: [t]": args.max was not resolved',
      ],
    );
  });

  it('the command names the template and the file, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kanary-lint-'));
    const file = join(dir, 'template.yaml');
    writeFileSync(file, template(metric(`successCondition: result >>\n${WEB}`)));
    const run = spawnSync(process.execPath, [join(ROOT, 'bin', 'kanary.js'), 'lint', '-f', file], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^error: spec\.metrics\[0\] \(m\)\.successCondition: /);
    assert.ok(run.stderr.includes(`hint: in AnalysisTemplate "t" of ${file}\n`), run.stderr);
    writeFileSync(file, template(metric(`successCondition: result > 1\n${WEB}`)));
    const good = spawnSync(process.execPath, [join(ROOT, 'bin', 'kanary.js'), 'lint', '-f', file], {
      encoding: 'utf8',
    });
    assert.deepEqual([good.status, good.stderr], [0, '']);
  });
});

describe('lint: background analysis against the AnalysisTemplates in the same file', () => {
  const manifest = (templates: string) => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  replicas: 1
  selector: {matchLabels: {app: r}}
  template:
    metadata: {labels: {app: r}}
    spec: {containers: [{name: r, image: nginx}]}
  strategy:
    canary:
      analysis: {templates: [{templateName: a}, {templateName: b}], startingStep: 1}
      steps:
      - setWeight: 10
      - pause: {}
${templates}`;
  const template = (name: string, metric: string) => `---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: ${name}}
spec:
  metrics:
  - name: ${metric}
    interval: 1s
    successCondition: result == true
    provider: {web: {url: 'http://127.0.0.1/'}}
`;
  it('runs without a count are fine in the background; a metric name in two templates is the controller message', () => {
    assert.deepEqual(lintText(manifest(template('a', 'm1') + template('b', 'm2'))).problems, []);
    assert.deepEqual(
      lintText(manifest(template('a', 'm') + template('b', 'm'))).problems.map((p) => p.message),
      [
        `spec.strategy.canary.analysis.templates: Invalid value: "templateNames: [a b]": two metrics have the same name 'm'`,
      ],
    );
  });
});
