/** Kubernetes metav1.Time: RFC 3339 in UTC with whole seconds. */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** Milliseconds since the epoch, or undefined for a missing or unparsable time. */
export function parseTime(s: unknown): number | undefined {
  if (typeof s !== 'string' && !(s instanceof Date)) return undefined;
  const t = new Date(s).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/** metav1.Time has second precision: what `now` becomes once written and read back. */
export function truncateToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
