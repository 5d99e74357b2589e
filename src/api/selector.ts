/** Label selectors: matching, and the string form Kubernetes prints (status.selector). */
import type { V1LabelSelector, V1LabelSelectorRequirement } from '@kubernetes/client-node';

type Labels = Record<string, string> | undefined | null;

/**
 * metav1.LabelSelectorAsSelector semantics: a nil selector matches nothing,
 * an empty one matches everything.
 */
export function selectorMatches(selector: V1LabelSelector | undefined | null, labels: Labels): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (l[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    if (!requirementMatches(req, l)) return false;
  }
  return true;
}

function requirementMatches(req: V1LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(value as string);
    case 'NotIn':
      return !has || !values.includes(value as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}

/** metav1.FormatLabelSelector: requirements sorted by key, `<none>` when empty. */
export function formatLabelSelector(selector: V1LabelSelector | undefined | null): string {
  if (!selector) return '<none>';
  const reqs: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) reqs.push({ key: k, text: `${k}=${v}` });
  for (const r of selector.matchExpressions ?? []) {
    const values = [...(r.values ?? [])].sort().join(',');
    const text =
      r.operator === 'In'
        ? `${r.key} in (${values})`
        : r.operator === 'NotIn'
          ? `${r.key} notin (${values})`
          : r.operator === 'Exists'
            ? r.key
            : r.operator === 'DoesNotExist'
              ? `!${r.key}`
              : undefined;
    if (text === undefined) return '<error>';
    reqs.push({ key: r.key, text });
  }
  // Go's labels.Selector sorts requirements by key (stable for equal keys)
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const s = reqs.map((r) => r.text).join(',');
  return s === '' ? '<none>' : s;
}
