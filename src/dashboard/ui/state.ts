/**
 * The page's state logic, pure (no DOM; unit-tested in
 * test/unit/dashboard/ui-state.test.ts): folding the server's pushes into the
 * list, the list's filters, the hash routes, and Server-Sent Events parsing.
 */
import type { RolloutSummary } from '../view.ts';

export type ListMessage =
  | { event: 'snapshot'; data: { rollouts: RolloutSummary[] } }
  | { event: 'changes'; data: { upserts: RolloutSummary[]; deletes: string[] } };

/** The list after a push: a snapshot replaces it, changes upsert and delete by key; sorted by key. */
export function applyListMessage(list: RolloutSummary[], msg: ListMessage): RolloutSummary[] {
  if (msg.event === 'snapshot') return [...msg.data.rollouts].sort(byKey);
  const byKeyMap = new Map(list.map((r) => [r.key, r]));
  for (const key of msg.data.deletes) byKeyMap.delete(key);
  for (const r of msg.data.upserts) byKeyMap.set(r.key, r);
  return [...byKeyMap.values()].sort(byKey);
}

const byKey = (a: RolloutSummary, b: RolloutSummary) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export interface ListFilter {
  /** '' for all */
  namespace: string;
  /** '' for all; a phase otherwise */
  status: string;
  /** case-insensitive; matches name, namespace or an image */
  search: string;
}

export const PHASES = ['Healthy', 'Progressing', 'Paused', 'Degraded'] as const;

export function filterRollouts(list: RolloutSummary[], f: ListFilter): RolloutSummary[] {
  const q = f.search.trim().toLowerCase();
  return list.filter(
    (r) =>
      (!f.namespace || r.namespace === f.namespace) &&
      (!f.status || r.phase === f.status) &&
      (!q ||
        r.name.toLowerCase().includes(q) ||
        r.namespace.toLowerCase().includes(q) ||
        r.images.some((i) => i.toLowerCase().includes(q))),
  );
}

/** How many rollouts are in each phase (the filter's counts). */
export function phaseCounts(list: RolloutSummary[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of list) counts[r.phase] = (counts[r.phase] ?? 0) + 1;
  return counts;
}

export type Route = { view: 'list' } | { view: 'rollout'; namespace: string; name: string };

/** `#/rollouts/ns/name` → the rollout page; anything else → the list. */
export function parseRoute(hash: string): Route {
  const m = /^#\/rollouts\/([^/]+)\/([^/]+)$/.exec(hash);
  if (!m) return { view: 'list' };
  try {
    return {
      view: 'rollout',
      namespace: decodeURIComponent(m[1] ?? ''),
      name: decodeURIComponent(m[2] ?? ''),
    };
  } catch {
    return { view: 'list' };
  }
}

export function rolloutHref(namespace: string, name: string): string {
  return `#/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

/** The token handed over in the URL fragment (`#token=…`), which never reaches the server. */
export function tokenFromHash(hash: string): string | undefined {
  const m = /^#token=([A-Za-z0-9_\-.~+/=]+)$/.exec(hash);
  return m ? m[1] : undefined;
}

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits Server-Sent Events text into complete events and the unfinished rest
 * (kept for the next chunk). Comments (`: keepalive`) are dropped.
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const text = buffer.replaceAll('\r\n', '\n');
  const blocks = text.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}

/** Points of a line chart (SVG coordinates) for a series of values, in a `width`×`height` box. */
export function chartPoints(values: number[], width: number, height: number): { x: number; y: number }[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values.map((v, i) => ({
    x: Math.round(i * step * 10) / 10,
    y: Math.round((height - ((v - min) / span) * height) * 10) / 10,
  }));
}

export type ActionKey = 'promote' | 'promote-full' | 'pause' | 'resume' | 'abort' | 'retry' | 'restart';

/**
 * Which actions make sense now, by the rules of Argo CD's Rollout actions
 * (actions/discovery.lua): the buttons of the others are disabled. The API
 * does not rely on this; it runs what it is sent, as the CLI does.
 */
export function enabledActions(s: RolloutSummary): Record<ActionKey, boolean> {
  return {
    promote: true,
    'promote-full': !s.fullyPromoted,
    pause: !s.fullyPromoted && !s.aborted && !s.manualPause,
    resume: s.paused,
    abort: !s.fullyPromoted && !s.aborted,
    retry: !s.fullyPromoted && s.aborted,
    restart: true,
  };
}
