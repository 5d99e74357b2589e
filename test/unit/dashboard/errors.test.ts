import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RevisionRestoreError } from '../../../src/client/actions.ts';
import { PlanError } from '../../../src/client/patches.ts';
import { HttpError, httpErrorOf } from '../../../src/dashboard/actions.ts';
import { DashboardConfigError, resolveToken, TOKEN_ENV } from '../../../src/dashboard/run.ts';
import { KubeApiError } from '../../../src/kube/client.ts';

const apiError = (code: number, message: string) =>
  new KubeApiError(code, 'PATCH', '/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web', {
    kind: 'Status',
    reason: 'Forbidden',
    message,
  });

describe('HTTP answers of failed actions', () => {
  const cases: [string, unknown, number, string][] = [
    [
      'a refused plan',
      new PlanError('Cannot skip steps of a rollout without steps'),
      400,
      'Cannot skip steps of a rollout without steps',
    ],
    [
      "the API server's RBAC refusal, with its message",
      apiError(403, 'rollouts.argoproj.io "web" is forbidden: User "alice" cannot patch resource "rollouts"'),
      403,
      'the Kubernetes API server answered 403: rollouts.argoproj.io "web" is forbidden: User "alice" cannot patch resource "rollouts"',
    ],
    [
      'a conflict',
      apiError(409, 'the object has been modified'),
      409,
      'the Kubernetes API server answered 409: the object has been modified',
    ],
    [
      "the dashboard's own credentials rejected: not the browser's 401",
      apiError(401, 'Unauthorized'),
      502,
      'the Kubernetes API server answered 401: Unauthorized',
    ],
    [
      'undo whose patch failed names the revision',
      new RevisionRestoreError(3, apiError(422, 'spec.template: Invalid value')),
      422,
      'failed restoring revision 3: the Kubernetes API server answered 422: spec.template: Invalid value',
    ],
    [
      'a lost connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }),
      502,
      'cannot reach the Kubernetes API server: connect ECONNREFUSED 127.0.0.1:6443',
    ],
    [
      'an HttpError stays',
      new HttpError(404, 'rollout "x" not found in namespace "y"'),
      404,
      'rollout "x" not found in namespace "y"',
    ],
  ];
  for (const [name, err, status, message] of cases) {
    it(name, () => {
      const e = httpErrorOf(err);
      assert.deepEqual([e.status, e.message], [status, message]);
    });
  }
});

describe('the token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kanary-dash-token-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  it('from --token-file (trimmed), which wins over the environment', () => {
    assert.deepEqual(
      resolveToken(file('ok', 'a-long-enough-token-123\n'), { [TOKEN_ENV]: 'another-long-token-456' }),
      {
        token: 'a-long-enough-token-123',
        from: 'file',
      },
    );
  });
  it('from the environment', () => {
    assert.deepEqual(resolveToken(undefined, { [TOKEN_ENV]: ' env-token-long-enough ' }), {
      token: 'env-token-long-enough',
      from: 'env',
    });
  });
  it('generated: 32 base64url characters, different each time', () => {
    const a = resolveToken(undefined, {});
    const b = resolveToken(undefined, {});
    assert.equal(a.from, 'generated');
    assert.match(a.token, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a.token, b.token);
  });
  for (const [name, text] of [
    ['short', 'short'],
    ['two words', 'two words in a token'],
    ['empty', ''],
  ] as const) {
    it(`refuses a ${name} token file`, () =>
      assert.throws(() => resolveToken(file(name.replace(' ', '-'), text), {}), DashboardConfigError));
  }
  it('says which file could not be read', () =>
    assert.throws(
      () => resolveToken(join(dir, 'missing'), {}),
      /^DashboardConfigError: cannot read --token-file .*missing: ENOENT/,
    ));
});
