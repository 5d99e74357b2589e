/**
 * The pod-template hash and step hash, computed as Argo Rollouts does: FNV-1a
 * (32 bit) over Go's JSON encoding, printed in decimal and "safe encoded"
 * (each digit mapped into an alphabet without vowels, so no words appear).
 * Identical inputs give identical ReplicaSet names across restarts, versions
 * and controllers (Argo's own ReplicaSets are found by the same hash).
 */
import { canonicalJson, encodePodTemplateSpec, encodeTyped } from './gojson.ts';
import type { CanaryStep, Rollout } from './types.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fnv32a(bytes: Uint8Array, seed = FNV_OFFSET): number {
  let h = seed;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

/** k8s.io/apimachinery/pkg/util/rand.SafeEncodeString */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * Hash of `spec.template`. With a collision count, its value is appended as a
 * little-endian uint32 in an 8-byte buffer (Argo's collision avoidance).
 */
export function computePodTemplateHash(template: unknown, collisionCount?: number | null): string {
  let h = fnv32a(utf8(encodePodTemplateSpec(template)));
  if (collisionCount !== undefined && collisionCount !== null) {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(buf, h);
  }
  return safeEncode(String(h));
}

/**
 * Go field order of Argo's CanaryStep and the step types Kanary runs; the
 * others (experiment, analysis, routes, plugin) are hashed with sorted keys,
 * which is deterministic though not byte-identical to Argo.
 */
const STEP_FIELDS: [name: keyof CanaryStep, type: string][] = [
  ['setWeight', 'int'],
  ['pause', 'pause'],
  ['experiment', 'any'],
  ['analysis', 'any'],
  ['setCanaryScale', 'setCanaryScale'],
  ['setHeaderRoute', 'any'],
  ['setMirrorRoute', 'any'],
  ['plugin', 'any'],
];

const isSet = (v: unknown) => v !== undefined && v !== null;

function encodeStep(step: CanaryStep): string {
  const parts: string[] = [];
  for (const [name, type] of STEP_FIELDS) {
    const v = step[name];
    if (!isSet(v)) continue; // every CanaryStep field is an omitempty pointer
    let json: string;
    if (type === 'int') json = String(v);
    else if (type === 'pause') {
      const d = (v as CanaryStep['pause'])?.duration;
      json = isSet(d) ? `{"duration":${encodeTyped('intorstring', d)}}` : '{}';
    } else if (type === 'setCanaryScale') {
      const s = v as NonNullable<CanaryStep['setCanaryScale']>;
      const fields: string[] = [];
      if (isSet(s.weight)) fields.push(`"weight":${s.weight}`);
      if (isSet(s.replicas)) fields.push(`"replicas":${s.replicas}`);
      if (s.matchTrafficWeight) fields.push('"matchTrafficWeight":true');
      json = `{${fields.join(',')}}`;
    } else json = canonicalJson(v);
    parts.push(`"${name}":${json}`);
  }
  return `{${parts.join(',')}}`;
}

/** `status.currentStepHash`: the hash of the canary steps ("" for blue-green). */
export function computeStepHash(r: Rollout): string {
  const canary = r.spec.strategy?.canary;
  if (r.spec.strategy?.blueGreen || !canary) return '';
  // an empty list and a missing one both marshal as null after Go's round trip
  const steps = canary.steps?.length ? `[${canary.steps.map(encodeStep).join(',')}]` : 'null';
  return safeEncode(String(fnv32a(utf8(steps))));
}
