/**
 * The pure core of the Argo parity harness (test/integration/compat): turns
 * the objects one controller produced into a flat, comparable form, diffs two
 * of them, and reads the deliberate differences from docs/controller.md.
 *
 * Normalisation, and why each part is noise rather than behaviour:
 * - uid, resourceVersion, creationTimestamp, managedFields, namespace and
 *   owner-reference uids name the run, not the controller's decisions;
 * - every RFC 3339 timestamp becomes `<time>` (the two runs have different
 *   wall clocks); its presence still counts;
 * - pod-template hashes become `<revN>` (by the ReplicaSet's revision), so a
 *   hash mismatch is reported once, by `hashDifferences`, instead of in every
 *   name, label, selector and message that contains it;
 * - Services keep only selector, labels and annotations (cluster IPs are
 *   allocated by the API server);
 * - AnalysisRuns (when a scenario has them) keep labels, annotations, owners,
 *   spec and status; their measurements' times become `<time>` like any other;
 * - Events count by (kind, type, reason) since the previous stopping point,
 *   as each controller recorded them: Kanary's from the cluster (it writes
 *   every Event), Argo's from its log, because client-go's recorder drops
 *   Events on one object beyond a burst of 25 (then one per 5 minutes) before
 *   they reach the cluster, which the seed scenario exceeds;
 * - `metadata.generation` and `status.observedGeneration` are compared as
 *   they are (docs/controller.md excuses the offset Argo's full Update of the
 *   Rollout causes), and also as `observedGeneration == generation`, which
 *   must hold on both sides.
 * Everything else (status, ReplicaSet specs, canary Ingress, annotations) is
 * compared as is.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type Flat = Record<string, string>;

export interface KubeObj {
  metadata: {
    name: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

export interface EventObj {
  metadata: { uid: string };
  reason: string;
  type: string;
  count?: number;
  involvedObject: { kind: string; name: string };
  source?: { component?: string };
  reportingComponent?: string;
}

/** What one controller left in its namespace at a stopping point. */
export interface Observed {
  rollout: KubeObj;
  replicaSets: KubeObj[];
  services: KubeObj[];
  ingresses: KubeObj[];
  /** the AnalysisRuns of the namespace (each side's own AnalysisRun controller measured them) */
  analysisRuns?: KubeObj[];
}

/** One Event as a controller recorded it. */
export interface Recorded {
  kind: string;
  type: string;
  reason: string;
  /** the Event's message, when it was read from a log line */
  message?: string;
  /** when it was logged (ms since the epoch; the log has whole seconds) */
  at?: number;
  /**
   * A canary Ingress write Event with the same message as the previous one of that reason, within
   * a second: Argo ran the same write again because its informer had not yet seen the first one
   * (e.g. "canary ingress not found" twice, then CreatingCanaryIngress twice). Not a step of the
   * rollout, so not counted.
   */
  repeat?: boolean;
}

/** How far apart (in the log's whole seconds) a repeated write's two Events can be. */
const REPEAT_WINDOW_MS = 1000;
/**
 * Events Argo records when it writes the canary Ingress because its cached copy differs from what
 * it wants: said twice with the same message within a second, the second write found its own first
 * one missing from the cache. Other reasons legitimately repeat the same message at once (e.g.
 * TrafficWeightUpdated "Traffic weight updated " several times a second without steps).
 */
const CACHE_LAG_REASONS = new Set(['CreatingCanaryIngress', 'PatchingCanaryIngress']);

/** Marks `e` as a repeat of the last Event of its reason in `earlier`, if it says the same at once. */
export function markRepeat(earlier: Recorded[], e: Recorded): Recorded {
  if (!CACHE_LAG_REASONS.has(e.reason)) return e;
  for (let i = earlier.length - 1; i >= 0; i--) {
    const p = earlier[i]!;
    if (p.kind === e.kind && p.type === e.type && p.reason === e.reason) {
      const same = p.message !== undefined && p.message === e.message;
      const soon = p.at !== undefined && e.at !== undefined && Math.abs(e.at - p.at) <= REPEAT_WINDOW_MS;
      return same && soon ? { ...e, repeat: true } : e;
    }
  }
  return e;
}

export const HASH_LABEL = 'rollouts-pod-template-hash';
export const REVISION_ANNOTATION = 'rollout.argoproj.io/revision';
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** revision → pod-template hash of the ReplicaSets (those without a revision are keyed by their name). */
export function hashesByRevision(rss: KubeObj[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rs of rss) {
    const hash = rs.metadata.labels?.[HASH_LABEL];
    if (!hash) continue;
    out[rs.metadata.annotations?.[REVISION_ANNOTATION] ?? rs.metadata.name] = hash;
  }
  return out;
}

/** Replaces hashes and timestamps inside one string. */
function symbolise(s: string, hashes: Record<string, string>): string {
  if (TIME.test(s)) return '<time>';
  let out = s;
  // longest first, so a hash that contains another is replaced whole
  for (const [rev, h] of Object.entries(hashes).sort((a, b) => b[1].length - a[1].length)) {
    out = out.replaceAll(h, `<rev${rev}>`);
  }
  return out;
}

/** Array elements keyed by what identifies them, so order and insertions do not shift every path. */
function elementKey(v: unknown, i: number): string {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.type === 'string' && ('status' in o || 'reason' in o)) return o.type; // conditions
    if (typeof o.reason === 'string' && 'startTime' in o) return o.reason; // pauseConditions
    if (typeof o.kind === 'string' && typeof o.name === 'string') return `${o.kind}:${o.name}`; // ownerReferences
    if (typeof o.name === 'string') return o.name; // containers, ports
  }
  return String(i);
}

/** Flattens a JSON value into path → JSON text of the leaf, with hashes and times symbolised. */
export function flatten(
  value: unknown,
  prefix: string,
  hashes: Record<string, string>,
  out: Flat = {},
): Flat {
  if (value === undefined) return out;
  if (value === null || typeof value !== 'object') {
    out[prefix] = JSON.stringify(typeof value === 'string' ? symbolise(value, hashes) : value);
    return out;
  }
  const entries = Array.isArray(value)
    ? value.map((v, i) => [elementKey(v, i), v] as const)
    : Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) out[prefix] = Array.isArray(value) ? '[]' : '{}';
  for (const [k, v] of entries) flatten(v, `${prefix}/${symbolise(String(k), hashes)}`, hashes, out);
  return out;
}

function meta(o: KubeObj, keep: string[]): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const k of keep) if (o.metadata[k] !== undefined) m[k] = o.metadata[k];
  const owners = o.metadata.ownerReferences as Record<string, unknown>[] | undefined;
  if (owners && keep.includes('ownerReferences')) {
    m.ownerReferences = owners.map(({ uid: _uid, ...rest }) => rest);
  }
  return m;
}

/** Event counts by uid, to take the next stopping point's Events as a difference. */
export const eventCounts = (events: EventObj[]): Map<string, number> =>
  new Map(events.map((e) => [e.metadata.uid, e.count ?? 1]));

const fromRolloutController = (e: EventObj) =>
  e.involvedObject.kind === 'Rollout' ||
  e.source?.component === 'rollouts-controller' ||
  e.reportingComponent === 'rollouts-controller';

/** The rollout controller's Events in the cluster since `before`, as kind/type/reason → count. */
export function eventReasons(events: EventObj[], before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events.filter(fromRolloutController)) {
    const n = (e.count ?? 1) - (before.get(e.metadata.uid) ?? 0);
    if (n <= 0) continue;
    const k = `${e.involvedObject.kind}/${e.type}/${e.reason}`;
    out[k] = (out[k] ?? 0) + n;
  }
  return out;
}

/** Recorded Events as kind/type/reason → count, repeats (see Recorded) left out. */
export function countReasons(events: Recorded[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    if (e.repeat) continue;
    const k = `${e.kind}/${e.type}/${e.reason}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * The Event in one line of client-go's event logging (`StartLogging`), which
 * Argo's controller logs for every Event it records, e.g.
 * `Event(v1.ObjectReference{Kind:"Rollout", ...}): type: 'Normal' reason: 'RolloutUpdated' ...`
 * (quotes backslash-escaped inside logrus' msg="...").
 */
export function parseEventLogLine(line: string): Recorded | undefined {
  const m =
    /Event\(v1\.ObjectReference\{Kind:\\?"(\w+)\\?".*?\}\): type: '(\w+)' reason: '(\w+)' ?(.*)$/.exec(line);
  if (!m) return undefined;
  const time = /^time="([^"]+)"/.exec(line);
  const at = time ? Date.parse(time[1]!) : Number.NaN;
  // the message runs to the end of logrus' msg="…" (the line's last quote, when quoted)
  return {
    kind: m[1]!,
    type: m[2]!,
    reason: m[3]!,
    message: m[4]!.replace(/"$/, ''),
    ...(Number.isNaN(at) ? {} : { at }),
  };
}

/** The comparable form of what one controller produced (see the module comment). */
export function normalise(o: Observed, events: Record<string, number>): Flat {
  const hashes = hashesByRevision(o.replicaSets);
  const out: Flat = {};
  flatten(
    {
      metadata: meta(o.rollout, ['labels', 'annotations', 'finalizers', 'generation']),
      status: o.rollout.status,
    },
    'Rollout',
    hashes,
    out,
  );
  const observedGeneration = (o.rollout.status as { observedGeneration?: unknown } | undefined)
    ?.observedGeneration;
  out['Rollout/status/observedGeneration==generation'] = String(
    String(observedGeneration) === String(o.rollout.metadata.generation),
  );
  for (const rs of o.replicaSets) {
    flatten(
      { metadata: meta(rs, ['labels', 'annotations', 'ownerReferences']), spec: rs.spec },
      `ReplicaSet/${symbolise(rs.metadata.name, hashes)}`,
      hashes,
      out,
    );
  }
  for (const svc of o.services) {
    flatten(
      {
        metadata: meta(svc, ['labels', 'annotations']),
        selector: (svc.spec as { selector?: unknown } | undefined)?.selector,
      },
      `Service/${svc.metadata.name}`,
      hashes,
      out,
    );
  }
  for (const ing of o.ingresses) {
    flatten(
      { metadata: meta(ing, ['labels', 'annotations', 'ownerReferences']), spec: ing.spec },
      `Ingress/${ing.metadata.name}`,
      hashes,
      out,
    );
  }
  for (const run of o.analysisRuns ?? []) {
    flatten(
      {
        metadata: meta(run, ['labels', 'annotations', 'ownerReferences']),
        spec: run.spec,
        status: run.status,
      },
      `AnalysisRun/${symbolise(run.metadata.name, hashes)}`,
      hashes,
      out,
    );
  }
  for (const [k, n] of Object.entries(events)) out[`Events/${k}`] = String(n);
  return out;
}

export interface Difference {
  path: string;
  argo?: string;
  kanary?: string;
}

/** Paths whose values differ, or that only one side has; sorted by path. */
export function diff(argo: Flat, kanary: Flat, prefix = ''): Difference[] {
  const paths = [...new Set([...Object.keys(argo), ...Object.keys(kanary)])].sort();
  return paths
    .filter((p) => argo[p] !== kanary[p])
    .map((p) => ({ path: `${prefix}${p}`, argo: argo[p], kanary: kanary[p] }));
}

/** The pod-template hash of each revision must be the very same string (Argo's hash, byte for byte). */
export function hashDifferences(argo: Record<string, string>, kanary: Record<string, string>): Difference[] {
  const revs = [...new Set([...Object.keys(argo), ...Object.keys(kanary)])].sort();
  return revs
    .filter((r) => argo[r] !== kanary[r])
    .map((r) => ({ path: `podTemplateHash/rev${r}`, argo: argo[r], kanary: kanary[r] }));
}

// ---- The deliberate differences, as docs/controller.md lists them ----

export const DELIBERATE_HEADING = 'Deliberate differences from Argo Rollouts';

export interface Deliberate {
  path: string;
  reason: string;
}

/**
 * Rows of the table under the heading "Deliberate differences from Argo
 * Rollouts": first column a path pattern in backticks, last column the reason.
 * Fails on a row without a reason, so nothing is excused silently.
 */
export function parseDeliberate(markdown: string): Deliberate[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex(
    (l) => /^#+\s/.test(l) && l.replace(/^#+\s*/, '').trim() === DELIBERATE_HEADING,
  );
  if (start < 0) throw new Error(`no heading "${DELIBERATE_HEADING}" in docs/controller.md`);
  const out: Deliberate[] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (/^#+\s/.test(line)) break;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    const first = cells[0] ?? '';
    if (/^-+$/.test(first.replace(/:/g, '')) || !first.startsWith('`')) continue; // header, separator
    const path = first.replace(/^`|`$/g, '');
    const reason = cells.at(-1) ?? '';
    if (cells.length < 2 || !reason) throw new Error(`deliberate difference \`${path}\` has no reason`);
    out.push({ path, reason });
  }
  return out;
}

export const readDeliberate = (file: string) => parseDeliberate(readFileSync(file, 'utf8'));

/** `*` matches within one path segment, `**` one or more whole segments. */
export function globToRegExp(glob: string): RegExp {
  const re = glob
    .split('/')
    .map((seg) => (seg === '**' ? '.+' : seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')))
    .join('/');
  return new RegExp(`^${re}$`);
}

export function excused(d: Difference, list: Deliberate[]): Deliberate | undefined {
  return list.find((x) => globToRegExp(x.path).test(d.path));
}

/** One line per difference, for failure messages. */
export function formatDifferences(ds: Difference[]): string {
  return ds
    .map((d) => `  ${d.path}\n      argo:   ${d.argo ?? '(absent)'}\n      kanary: ${d.kanary ?? '(absent)'}`)
    .join('\n');
}

/**
 * `get rollout` output for a line-by-line comparison: ages ("5s", "2m10s",
 * also in `delay:25s`) become `<age>`, and runs of spaces (padding that follows
 * their width) one space.
 */
export function normaliseGet(out: string): string[] {
  return out
    .split('\n')
    .map((l) =>
      l
        .replace(/\b\d+(d|h|m|s)(\d+(h|m|s))?\b/g, '<age>')
        .replace(/\s+/g, ' ')
        .trimEnd(),
    )
    .filter((l) => l !== '');
}

/**
 * `get rollout` of kubectl-argo-rollouts and of Kanary, compared line by line (normaliseGet). The
 * two CLIs read one after the other; while a controller still writes (the Rollout's status follows
 * its ReplicaSets a pass later), the second can read a newer state than the first (once: Current
 * 3, Updated 1 against 2, 0). A rendering difference shows on every read, a read in between the two
 * does not: so both are read again, up to five times 500 ms apart, and only a difference that stays
 * fails. Returns Kanary's output.
 */
export async function assertSameGet(
  read: () => Promise<{ argo: string; ours: { code: number | null; stdout: string; stderr: string } }>,
  when: string,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const { argo, ours } = await read();
    assert.equal(ours.code, 0, ours.stderr);
    const same = JSON.stringify(normaliseGet(ours.stdout)) === JSON.stringify(normaliseGet(argo));
    if (!same && attempt < 5) {
      await sleep(500);
      continue;
    }
    assert.deepEqual(
      normaliseGet(ours.stdout),
      normaliseGet(argo),
      `${when}: kanary get rollout differs from kubectl-argo-rollouts get rollout\n--- argo ---\n${argo}\n--- kanary ---\n${ours.stdout}`,
    );
    return ours.stdout;
  }
}
