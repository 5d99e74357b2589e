import { ingressClassOf } from '../api/dataplane-report.ts';
import type { CanaryRules, Ingress } from './types.ts';

/**
 * Annotation parsing with ingress-nginx's validators and fallbacks: an invalid
 * value is reported and replaced by the default, never fatal.
 */

// ingress-nginx's "BasicChars" validator (header, header value, cookie)
const BASIC_CHARS = /^[/A-Za-z0-9\-._~:]+$/;
// ingress-nginx's regex-annotation charset (header pattern)
const REGEX_CHARS = /^[A-Za-z0-9\-._~/:^$[\](){}*+?|&=\\]+$/;
const INT = /^[+-]?\d+$/;

export interface Warning {
  annotation: string;
  message: string;
}

export interface ParsedAnnotations {
  canary: boolean;
  rules: CanaryRules;
  useRegex: boolean;
  rewriteTarget?: string;
  /** undefined = default (redirect when the host has TLS) */
  sslRedirect?: boolean;
  warnings: Warning[];
}

export function parseAnnotations(ing: Ingress, prefix: string): ParsedAnnotations {
  const a = ing.metadata.annotations ?? {};
  const warnings: Warning[] = [];
  const key = (k: string) => `${prefix}/${k}`;
  const raw = (k: string): string | undefined => a[key(k)];

  const bool = (k: string, def: boolean): boolean => {
    const v = raw(k);
    if (v === undefined) return def;
    if (v === 'true') return true;
    if (v === 'false') return false;
    warnings.push({ annotation: key(k), message: `"${v}" is not a boolean (true/false); using ${def}` });
    return def;
  };
  const int = (k: string, def: number): number => {
    const v = raw(k);
    if (v === undefined) return def;
    if (!INT.test(v.trim())) {
      warnings.push({ annotation: key(k), message: `"${v}" is not an integer; using ${def}` });
      return def;
    }
    return Number.parseInt(v, 10);
  };
  const chars = (k: string, re: RegExp, stripSpaces: boolean): string => {
    let v = raw(k);
    if (v === undefined) return '';
    if (stripSpaces) v = v.replace(/\s/g, '');
    if (v === '') return '';
    if (!re.test(v)) {
      warnings.push({
        annotation: key(k),
        message: `"${v}" contains characters that are not allowed; ignored`,
      });
      return '';
    }
    return v;
  };

  const canaryOn = bool('canary', false);
  const totalRaw = int('canary-weight-total', 100);
  const rules: CanaryRules = {
    header: chars('canary-by-header', BASIC_CHARS, true),
    headerValue: chars('canary-by-header-value', BASIC_CHARS, false),
    headerPattern: chars('canary-by-header-pattern', REGEX_CHARS, false),
    cookie: chars('canary-by-cookie', BASIC_CHARS, false),
    weight: int('canary-weight', 0),
    // ingress-nginx only honours a total above 100
    weightTotal: Math.max(totalRaw, 100),
  };
  if (raw('canary-weight-total') !== undefined && totalRaw < 100) {
    warnings.push({
      annotation: key('canary-weight-total'),
      message: `${totalRaw} is not above 100, so 100 is used (as ingress-nginx does)`,
    });
  }
  const canaryConfigured =
    raw('canary-weight') !== undefined ||
    rules.header !== '' ||
    rules.headerValue !== '' ||
    rules.headerPattern !== '' ||
    rules.cookie !== '';
  if (!canaryOn && canaryConfigured) {
    warnings.push({
      annotation: key('canary'),
      message:
        'canary annotations are set but canary is not "true"; the Ingress is served as a normal Ingress',
    });
  }
  if (canaryOn && rules.header && /[.~/:]/.test(rules.header)) {
    warnings.push({
      annotation: key('canary-by-header'),
      message: `header name "${rules.header}" contains characters nginx cannot look up; the header rule never matches`,
    });
  }

  const rewrite = raw('rewrite-target');
  return {
    canary: canaryOn,
    rules,
    useRegex: bool('use-regex', false),
    rewriteTarget: rewrite === undefined || rewrite === '' ? undefined : rewrite,
    sslRedirect: raw('ssl-redirect') === undefined ? undefined : bool('ssl-redirect', true),
    warnings,
  };
}

/** The `kubernetes.io/ingress.class` annotation or spec.ingressClassName, whichever is set (annotation first). */
export { ingressClassOf };
