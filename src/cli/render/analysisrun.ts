/**
 * Text of `kanary get analysisrun`: a summary block like `get rollout`'s, then
 * one block per metric — provider, conditions, limits, counts — and a table
 * of its measurements with the reason each got its phase.
 */
import type { AnalysisRunDetail, Counts, MetricInfo } from '../../client/analysisrun-info.ts';
import { age, alignColumns } from '../../client/format.ts';
import { Icon, paint } from '../../client/icons.ts';

export interface RenderOptions {
  /** epoch milliseconds that ages are measured against */
  now: number;
  colour: boolean;
}

const LABEL_WIDTH = 17;
/** Values longer than this (a long Prometheus vector, an HTML error page) are cut in the table; -o json has them whole. */
const MAX_CELL = 80;

function field(label: string, value: string | number, width = LABEL_WIDTH): string {
  return `${label.padEnd(width)}${value}`.trimEnd();
}

/** One line of a cell: newlines and tabs become spaces, long text ends in `…`. */
export function cell(text: string, max = MAX_CELL): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

function when(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '';
  const a = age(timestamp, now);
  return a ? `${timestamp} (${a} ago)` : timestamp;
}

function counts(c: Counts, colour: boolean): string {
  const part = (icon: string, n: number) => `${paint(icon, icon, colour)} ${n}`;
  return [
    part(Icon.ok, c.successful),
    part(Icon.bad, c.failed),
    part(Icon.unknown, c.inconclusive),
    part(Icon.warning, c.error),
  ].join('  ');
}

function createdBy(d: AnalysisRunDetail): string {
  if (!d.owner) return '';
  const what: string[] = [];
  if (d.rolloutType === 'Step')
    what.push(d.stepIndex ? `step analysis, step ${d.stepIndex}` : 'step analysis');
  else if (d.rolloutType === 'Background') what.push('background analysis');
  else if (d.rolloutType) what.push(`${d.rolloutType} analysis`);
  if (d.revision) what.push(`revision ${d.revision}`);
  return what.length > 0 ? `${d.owner} (${what.join(', ')})` : d.owner;
}

function metricBlock(m: MetricInfo, opts: RenderOptions): string[] {
  const { colour } = opts;
  const w = 21;
  const title = `Metric: ${m.name}${m.dryRun ? ' (dry run: never fails the run)' : ''}`;
  const lines = [title];
  const status = m.phase ? `${paint(m.icon, m.icon, colour)} ${m.phase}` : 'not measured yet';
  lines.push(field('  Status:', status, w));
  if (m.message) lines.push(field('  Message:', cell(m.message, 200), w));
  lines.push(field('  Provider:', m.provider || '(none)', w));
  for (const t of m.target) lines.push(field('', cell(t, 200), w));
  if (m.provider !== 'job' || m.successCondition || m.failureCondition) {
    lines.push(field('  Success condition:', m.successCondition || '(none)', w));
    lines.push(field('  Failure condition:', m.failureCondition || '(none)', w));
  }
  lines.push(field('  Limits:', m.limits.map((l) => `${l.name} ${l.value}`).join(', '), w));
  const c = m.counts;
  const consecutive = c.consecutiveError > 0 ? `, ${c.consecutiveError} consecutive errors` : '';
  lines.push(field('  Measured:', `${c.count}  (${counts({ ...c }, colour)}${consecutive})`, w));
  if (m.measurements.length === 0) return lines;
  const rows: string[][] = [['  STARTED', 'STATUS', 'VALUE', 'DECIDED BY']];
  for (const x of m.measurements) {
    rows.push([
      `  ${x.startedAt ?? ''}`,
      `${paint(x.icon, x.icon, colour)} ${x.phase}`,
      cell(x.value || (x.job ? `job ${x.job}` : '')),
      cell(x.decidedBy, 120),
    ]);
  }
  lines.push(...alignColumns(rows).trimEnd().split('\n'));
  return lines;
}

export function renderAnalysisRun(d: AnalysisRunDetail, opts: RenderOptions): string {
  const { colour } = opts;
  const lines = [
    field('Name:', d.name),
    field('Namespace:', d.namespace),
    field('Status:', `${paint(d.icon, d.icon, colour)} ${d.status}${d.terminated ? ' (terminated)' : ''}`),
  ];
  if (d.message) lines.push(field('Message:', cell(d.message, 400)));
  const by = createdBy(d);
  if (by) lines.push(field('Created by:', by));
  if (d.startedAt) lines.push(field('Started:', when(d.startedAt, opts.now)));
  if (d.completedAt) lines.push(field('Completed:', when(d.completedAt, opts.now)));
  d.args.forEach((a, i) => {
    lines.push(field(i === 0 ? 'Args:' : '', cell(a, 200)));
  });
  const s = d.summary;
  lines.push(field('Metrics:', `${s.count}  (${counts(s, colour)})`));
  for (const m of d.metrics) lines.push('', ...metricBlock(m, opts));
  return `${lines.join('\n')}\n`;
}
