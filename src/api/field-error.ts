/**
 * Field errors printed the way Kubernetes' apimachinery `field.Error` prints
 * them (`<path>: <type>: <value>: <detail>`), because Argo's InvalidSpec
 * messages and `kubectl argo rollouts lint` output are exactly that text.
 */
import { goQuote } from './constants.ts';

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
  /** the bad value already rendered as Go's fmt would (%q, %v or %#v) */
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

/** Go renderings of bad values. */
export const goValue = {
  string: (s: string) => goQuote(s),
  number: (n: number) => String(n),
  bool: (b: boolean) => String(b),
  stringSlice: (xs: string[]) => `[]string{${xs.map(goQuote).join(', ')}}`,
  /** intstr.IntOrString printed with %#v */
  intOrString: (v: number | string) =>
    typeof v === 'number'
      ? `intstr.IntOrString{Type:0, IntVal:${v}, StrVal:""}`
      : `intstr.IntOrString{Type:1, IntVal:0, StrVal:${goQuote(v)}}`,
  /** map[string]string printed with %#v (Go sorts map keys) */
  stringMap: (m: Record<string, string> | undefined | null) => {
    if (m === undefined || m === null) return 'map[string]string(nil)';
    const entries = Object.keys(m)
      .sort()
      .map((k) => `${goQuote(k)}:${goQuote(String(m[k]))}`);
    return `map[string]string{${entries.join(', ')}}`;
  },
};
