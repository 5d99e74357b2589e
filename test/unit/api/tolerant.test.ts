import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { isQuantity } from '../../../src/api/quantity.ts';
import { tolerantTemplate } from '../../../src/api/tolerant.ts';

const t = (spec: object) => ({ spec }) as V1PodTemplateSpec;

describe('tolerant pod template decoding', () => {
  it('drops a requests map with an undecodable quantity, keeps valid limits', () =>
    assert.deepEqual(
      tolerantTemplate(
        t({
          containers: [
            { name: 'a', resources: { requests: { memory: 'invalid', cpu: '1' }, limits: { cpu: '2' } } },
          ],
        }),
      ),
      t({ containers: [{ name: 'a', resources: { limits: { cpu: '2' } } }] }),
    ));
  it('drops the whole ephemeral container list when one entry is bad', () =>
    assert.deepEqual(
      tolerantTemplate(
        t({ containers: [], ephemeralContainers: [{ name: 'e', resources: { requests: { memory: 'x' } } }] }),
      ),
      t({ containers: [] }),
    ));
  it('returns the same object when everything decodes', () => {
    const ok = t({ containers: [{ name: 'a', resources: { requests: { memory: '16Mi', cpu: 0.5 } } }] });
    assert.equal(tolerantTemplate(ok), ok);
  });
  const quantities: [unknown, boolean][] = [
    ['16Mi', true],
    ['5m', true],
    ['1e3', true],
    [0.5, true],
    ['invalid', false],
    ['1Gb', false],
    ['', false],
    [null, false],
  ];
  for (const [q, ok] of quantities)
    it(`isQuantity(${JSON.stringify(q)}) = ${ok}`, () => assert.equal(isQuantity(q), ok));
});
