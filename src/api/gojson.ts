/**
 * Encodes JSON the way Go's encoding/json encodes Kubernetes structs: keys in
 * struct declaration order, `omitempty` zero values left out, struct-typed
 * fields always present, unknown fields dropped, map keys sorted, quantities
 * canonical and `<`, `>`, `&` escaped, `omitzero` fields (Go ≥ 1.24) left out
 * when zero. Argo Rollouts hashes these bytes, so reproducing them keeps
 * ReplicaSet names identical to Argo's (checked against Go's own output by
 * hack/hashgolden and test/unit/api/hash.test.ts). The same encoding renders
 * a validation error's bad value as apimachinery's field.Error does (its
 * json.Marshal), including the few Argo structs of src/api/argo-fields.ts.
 */
import { ARGO_STRUCTS } from './argo-fields.ts';
import { GO_STRUCTS, POD_TEMPLATE_ROOT } from './podtemplate-fields.gen.ts';
import { canonicalQuantity } from './quantity.ts';

/** The short escapes encoding/json writes (Go ≥ 1.22 added `\b` and `\f`); other controls get `\u00XX`. */
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** Go's string encoding, including its HTML-safe escapes. */
export function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] as string;
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // a valid pair is one character; Go decodes an unpaired surrogate to U+FFFD
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) out += s.slice(i, ++i + 1);
      else out += '\ufffd';
    } else out += ch;
  }
  return `${out}"`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;

/** Go sorts map keys by their UTF-8 bytes. */
function sortedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** JSON of a value with no known Go type: sorted keys, deterministic. */
export function canonicalJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v))
    return `{${sortedKeys(v)
      .map((k) => `${goString(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return 'null';
}

/** Whether Go's omitempty drops this value for a field of the given type. */
function isEmpty(type: string, v: unknown): boolean {
  if (type.startsWith('struct:') || type === 'time' || type === 'quantity' || type === 'intorstring') {
    return false; // structs are never "empty" to encoding/json
  }
  if (!present(v)) return true;
  if (type.startsWith('ptr:')) return false;
  if (type === 'string') return v === '';
  if (type === 'bool') return v === false;
  if (type === 'int' || type === 'float') return v === 0;
  if (type.startsWith('slice:') || type === 'bytes') return Array.isArray(v) ? v.length === 0 : v === '';
  if (type.startsWith('map:')) return isObject(v) && Object.keys(v).length === 0;
  return false;
}

/** The zero value Go prints for a missing non-omitempty field. */
function zeroOf(type: string): string {
  if (type.startsWith('struct:')) return encodeStruct(type.slice(7), {});
  switch (type) {
    case 'string':
      return '""';
    case 'bool':
      return 'false';
    case 'int':
    case 'float':
    case 'intorstring':
      return '0';
    case 'quantity':
      return '"0"';
    default:
      return 'null'; // pointers, slices, maps, time, any
  }
}

function encodeStruct(name: string, v: Record<string, unknown>): string {
  const fields = GO_STRUCTS[name] ?? ARGO_STRUCTS[name];
  if (!fields) return canonicalJson(v);
  const parts: string[] = [];
  for (const [key, omitEmpty, type, omitZero] of fields) {
    const value = v[key];
    if (omitEmpty && isEmpty(type, value)) continue;
    if (omitZero && isZeroTime(value)) continue;
    parts.push(`${goString(key)}:${encodeTyped(type, value)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Encodes `v` as the Go type `type` (from the generated field table). */
export function encodeTyped(type: string, v: unknown): string {
  if (type.startsWith('ptr:')) return present(v) ? encodeTyped(type.slice(4), v) : 'null';
  if (!present(v)) return zeroOf(type);
  if (type.startsWith('struct:')) return isObject(v) ? encodeStruct(type.slice(7), v) : canonicalJson(v);
  if (type.startsWith('slice:')) {
    if (!Array.isArray(v)) return canonicalJson(v);
    const elem = type.slice(6);
    return `[${v.map((x) => encodeTyped(elem, x)).join(',')}]`;
  }
  if (type.startsWith('map:')) {
    if (!isObject(v)) return canonicalJson(v);
    const elem = type.slice(4);
    return `{${sortedKeys(v)
      .map((k) => `${goString(k)}:${encodeTyped(elem, v[k])}`)
      .join(',')}}`;
  }
  switch (type) {
    case 'string':
      return typeof v === 'string' ? goString(v) : canonicalJson(v);
    case 'bool':
    case 'int':
    case 'float':
      return canonicalJson(v);
    case 'quantity':
      return typeof v === 'string' || typeof v === 'number'
        ? goString(canonicalQuantity(v))
        : canonicalJson(v);
    case 'intorstring':
      return typeof v === 'number' ? String(Math.trunc(v)) : canonicalJson(v);
    case 'time':
      return typeof v === 'string' ? goString(normalizeTime(v)) : 'null';
    default:
      return canonicalJson(v);
  }
}

/**
 * `omitzero` calls metav1.Time's IsZero: null, a missing value and the instant
 * 0001-01-01T00:00:00Z are zero (the only omitzero field of a pod template;
 * the field generator refuses others until taught here).
 */
function isZeroTime(v: unknown): boolean {
  if (!present(v)) return true;
  return typeof v === 'string' && new Date(v).getTime() === GO_ZERO_TIME_MS;
}
const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z'); // Date.UTC maps year 1 to 1901

/** metav1.Time round-trips to RFC 3339 in UTC with whole seconds. */
function normalizeTime(s: string): string {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : `${d.toISOString().slice(0, 19)}Z`;
}

/** Go's json.Marshal of a corev1.PodTemplateSpec given as API JSON. */
export function encodePodTemplateSpec(template: unknown): string {
  return encodeTyped(POD_TEMPLATE_ROOT, isObject(template) ? template : {});
}
