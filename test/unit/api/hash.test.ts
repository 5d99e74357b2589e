import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { encodePodTemplateSpec } from '../../../src/api/gojson.ts';
import { computePodTemplateHash, computeStepHash, fnv32a, safeEncode } from '../../../src/api/hash.ts';
import { canonicalQuantity } from '../../../src/api/quantity.ts';
import type { CanaryStep, Rollout } from '../../../src/api/types.ts';
import { UPSTREAM_MODULES, type UpstreamModule, upstreamPath } from '../../support/upstream.ts';

/**
 * Goldens written by Go (hack/hashgolden, `npm run hash:goldens`) with the
 * k8s.io/api and apimachinery versions Argo Rollouts v1.10.2 builds with:
 * encoding/json, hash/fnv and rand.SafeEncodeString, as Argo names ReplicaSets.
 * Our own templates are in test/golden/hash/table.json; the upstream ones are
 * the Rollouts of Argo Rollouts' and Argo CD's modules, read in place.
 */
const GOLDEN_DIR = join(import.meta.dirname, '..', '..', 'golden', 'hash');
const REPO = join(import.meta.dirname, '..', '..', '..');
const tableText = readFileSync(join(GOLDEN_DIR, 'table.json'), 'utf8');
const table = JSON.parse(tableText) as {
  templates: { name: string; collisionCount?: number; template: unknown }[];
  upstream: { module: string; version: string }[];
};
interface Golden {
  name: string;
  module?: string;
  file?: string;
  rollout?: string;
  occurrence?: number;
  collisionCount?: number;
  json?: string;
  hash?: string;
  error?: string;
}
const goldens = JSON.parse(readFileSync(join(GOLDEN_DIR, 'goldens.json'), 'utf8')) as {
  tableSha256: string;
  templates: Golden[];
  upstream: Golden[];
  repository: Golden[];
};
const REGENERATE = 'regenerate with `npm run hash:goldens`';

/** The template of the `occurrence`-th Rollout named `name` in a YAML file. */
function rolloutTemplate(file: string, name: string | undefined, occurrence = 0): unknown {
  const rollouts = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Rollout | null)
    .filter((o) => o?.kind === 'Rollout' && (o.metadata?.name ?? '') === (name ?? '') && o.spec?.template);
  const r = rollouts[occurrence];
  assert.ok(r, `no Rollout ${name} (#${occurrence}) in ${file}`);
  return r.spec.template;
}

function moduleOf(g: Golden): UpstreamModule {
  const found = (Object.keys(UPSTREAM_MODULES) as UpstreamModule[]).find(
    (k) => `${UPSTREAM_MODULES[k].path}@${UPSTREAM_MODULES[k].version}` === g.module,
  );
  assert.ok(
    found,
    `goldens name module ${g.module}, which test/support/upstream.ts does not pin; ${REGENERATE}`,
  );
  return found;
}

describe('pod-template hash matches Argo Rollouts v1.10 (goldens written by Go)', () => {
  it('the goldens were written from the current table', () => {
    const sha = createHash('sha256').update(tableText).digest('hex');
    assert.equal(goldens.tableSha256, sha, `test/golden/hash/table.json changed; ${REGENERATE}`);
  });

  it('the playground template (examples/tomozo) hashes as Argo names its ReplicaSet', () => {
    const seed = rolloutTemplate(join(REPO, 'examples', 'tomozo', 'rollout.yaml'), 'tomozo');
    const golden = goldens.repository.find((g) => g.name === 'examples/tomozo/rollout.yaml#tomozo');
    assert.equal(computePodTemplateHash(seed), golden?.hash);
  });

  for (const [i, entry] of table.templates.entries()) {
    const g = goldens.templates[i];
    it(`${entry.name}: Go JSON and hash ${g?.hash}`, () => {
      assert.equal(g?.name, entry.name, REGENERATE);
      assert.equal(g.error, undefined, `Go could not decode the template: ${g.error}`);
      assert.equal(encodePodTemplateSpec(entry.template), g.json);
      assert.equal(computePodTemplateHash(entry.template, entry.collisionCount), g.hash);
    });
  }

  it('every Rollout template of this repository', () => {
    for (const g of goldens.repository) {
      const t = rolloutTemplate(join(REPO, g.file ?? ''), g.rollout, g.occurrence);
      assert.equal(computePodTemplateHash(t, g.collisionCount), g.hash, g.name);
    }
  });

  it('the goldens pin the upstream modules the tests read', () => {
    for (const u of table.upstream) {
      const pinned = Object.values(UPSTREAM_MODULES).find((m) => m.path === u.module);
      assert.equal(pinned?.version, u.version, `${u.module} in table.json vs test/support/upstream.ts`);
    }
  });

  const hashed = goldens.upstream.filter((g) => g.error === undefined);
  it(`every Rollout template of Argo Rollouts' and Argo CD's modules (${hashed.length} of ${goldens.upstream.length}; the rest Go cannot decode)`, () => {
    const mismatches: string[] = [];
    for (const g of hashed) {
      const file = upstreamPath(moduleOf(g), g.file ?? '');
      const got = computePodTemplateHash(rolloutTemplate(file, g.rollout, g.occurrence));
      if (got !== g.hash)
        mismatches.push(
          `${g.name}: ours ${got}, Go ${g.hash} (Go's JSON: hack/hashgolden, go run . -print '${g.name}')`,
        );
    }
    assert.deepEqual(mismatches, []);
    assert.ok(hashed.length >= 100, `only ${hashed.length} upstream templates hashed`);
  });
});

describe('pod-template hash properties', () => {
  const first = table.templates[0]?.template;
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
    const none = computePodTemplateHash(first);
    assert.notEqual(computePodTemplateHash(first, 0), none);
    assert.notEqual(computePodTemplateHash(first, 1), computePodTemplateHash(first, 0));
  });

  it('is a valid label value', () => {
    for (const e of table.templates) assert.match(computePodTemplateHash(e.template, 3), /^[a-z0-9]{1,10}$/);
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
