import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/cli/errors.ts';
import { loadManifests, type Manifest } from '../../../src/kube/apply.ts';
import { blueGreenRoutes, routeTo } from '../../../src/playground/bluegreen.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const example = () => loadManifests(join(root, 'examples', 'bluegreen'));
const rolloutOf = (ms: Manifest[]) => ms.find((m) => m.kind === 'Rollout')!;

const ingress = (name: string, host: string | undefined, paths: [string, string][]): Manifest => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name },
  spec: {
    rules: [
      {
        ...(host ? { host } : {}),
        http: { paths: paths.map(([path, svc]) => ({ path, backend: { service: { name: svc } } })) },
      },
    ],
  },
});

describe('playground blue-green routes', () => {
  it('examples/bluegreen: one host for the active Service, one for the preview Service', () => {
    const ms = example();
    assert.deepEqual(blueGreenRoutes(ms, rolloutOf(ms)), {
      active: { ingress: 'bluegreen-active', host: 'bluegreen.example', path: '/' },
      preview: { ingress: 'bluegreen-preview', host: 'preview.bluegreen.example', path: '/' },
    });
  });

  const cases: { name: string; ingresses: Manifest[]; service: string; want: unknown }[] = [
    {
      name: 'the path whose backend is the Service, not the first path',
      ingresses: [
        ingress('a', 'h', [
          ['/x', 'other'],
          ['/y', 'svc'],
        ]),
      ],
      service: 'svc',
      want: { ingress: 'a', host: 'h', path: '/y' },
    },
    {
      name: 'a rule without host is served for localhost',
      ingresses: [ingress('a', undefined, [['/', 'svc']])],
      service: 'svc',
      want: { ingress: 'a', host: 'localhost', path: '/' },
    },
    {
      name: 'no Ingress for the Service',
      ingresses: [ingress('a', 'h', [['/', 'x']])],
      service: 'svc',
      want: undefined,
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(routeTo(c.ingresses, c.service), c.want));

  it('refuses a canary Rollout and a missing Ingress with a UserError', () => {
    const ms = example();
    const canary: Manifest = { ...rolloutOf(ms), spec: { strategy: { canary: {} } } };
    assert.throws(
      () => blueGreenRoutes(ms, canary),
      (e: unknown) => e instanceof UserError && /no strategy\.blueGreen/.test(e.message),
    );
    const noPreview = ms.filter((m) => m.metadata.name !== 'bluegreen-preview' || m.kind !== 'Ingress');
    assert.throws(
      () => blueGreenRoutes(noPreview, rolloutOf(ms)),
      (e: unknown) => e instanceof UserError && /preview Service bluegreen-preview/.test(e.message),
    );
  });
});
