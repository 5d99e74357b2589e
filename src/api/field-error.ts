/**
 * Field errors printed the way Kubernetes' apimachinery `field.Error` prints
 * them (`<path>: <type>: <value>: <detail>`), because Argo's InvalidSpec
 * messages and `kubectl argo rollouts lint` output are exactly that text.
 */
import { goQuote } from './constants.ts';
import { encodeTyped, goString } from './gojson.ts';

export type FieldErrorType =
  | 'Invalid value'
  | 'Required value'
  | 'Internal error'
  | 'Unsupported value'
  | 'Forbidden'
  | 'Duplicate value';

export interface FieldError {
  field: string;
  type: FieldErrorType;
  /** the bad value already rendered as field.Error prints it (%q, %v or JSON: see goValue) */
  value?: string;
  detail: string;
}

/** Go's rendering of a field error, e.g. `spec.replicas: Invalid value: -1: must be ...`. */
export function formatFieldError(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

export function fieldErrorBody(e: FieldError): string {
  // Required, Forbidden and Internal errors never print the value
  const withValue =
    e.type === 'Invalid value' || e.type === 'Unsupported value' || e.type === 'Duplicate value';
  let s: string = e.type;
  if (withValue) s += `: ${e.value ?? 'null'}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}

export const invalid = (field: string, value: string, detail: string): FieldError => ({
  field,
  type: 'Invalid value',
  value,
  detail,
});
export const required = (field: string, detail: string): FieldError => ({
  field,
  type: 'Required value',
  detail,
});
export const internal = (field: string, detail: string): FieldError => ({
  field,
  type: 'Internal error',
  detail,
});
export const forbidden = (field: string, detail: string): FieldError => ({
  field,
  type: 'Forbidden',
  detail,
});
export const unsupported = (field: string, value: string, supported: string[]): FieldError => ({
  field,
  type: 'Unsupported value',
  value,
  detail: `supported values: ${supported.map(goQuote).join(', ')}`,
});

/**
 * Go renderings of bad values, as apimachinery v0.34's field.Error prints them
 * (ErrorBody): int32/int64/float/bool with %v, a plain `string` with %q, and
 * any other type (maps, slices, structs, pointers, IntOrString, named string
 * types such as RestartPolicy) as its json.Marshal.
 */
export const goValue = {
  string: (s: string) => goQuote(s),
  number: (n: number) => String(n),
  bool: (b: boolean) => String(b),
  /** json.Marshal of a value of Go type `type` (gojson.ts's spelling, e.g. `struct:v1.LabelSelector`) */
  json: (type: string, v: unknown) => encodeTyped(type, v),
  /** a named string type (e.g. corev1.RestartPolicy): JSON-quoted, not %q */
  namedString: (s: string) => goString(s),
  /** []string; nil is `null` */
  stringSlice: (xs: string[] | undefined | null) => encodeTyped('slice:string', xs),
  /** intstr.IntOrString marshals to a bare number or a string */
  intOrString: (v: number | string) => encodeTyped('intorstring', v),
  /** map[string]string: keys sorted, nil is `null` */
  stringMap: (m: Record<string, string> | undefined | null) =>
    encodeTyped(
      'map:string',
      m === undefined || m === null
        ? m
        : Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v ?? '')])),
    ),
};
