/**
 * Text of `kanary list rollouts`: one row per Rollout with the columns of
 * `kubectl argo rollouts list rollouts`.
 */
import { alignColumns } from '../../client/format.ts';
import { currentSetWeight, rolloutPhase, stepText, strategyName } from '../../client/rollout-info.ts';
import type { Rollout } from '../../client/types.ts';

export interface RolloutRow {
  namespace: string;
  name: string;
  strategy: string;
  status: string;
  step: string;
  setWeight: string;
  ready: string;
  desired: number;
  upToDate: number;
  available: number;
}

export function rolloutRow(ro: Rollout): RolloutRow {
  const strategy = strategyName(ro);
  const status = ro.status ?? {};
  return {
    namespace: ro.metadata.namespace ?? '',
    name: ro.metadata.name ?? '',
    strategy: strategy || 'unknown',
    status: rolloutPhase(ro).phase,
    step: (strategy === 'Canary' && stepText(ro)) || '-',
    setWeight: strategy === 'Canary' ? String(currentSetWeight(ro)) : '-',
    ready: `${status.readyReplicas ?? 0}/${status.replicas ?? 0}`,
    desired: ro.spec?.replicas ?? 1,
    upToDate: status.updatedReplicas ?? 0,
    available: status.availableReplicas ?? 0,
  };
}

/** Rows are equal when nothing a reader would see changed (used by --watch to print only changes). */
export function sameRow(a: RolloutRow, b: RolloutRow): boolean {
  return (Object.keys(a) as (keyof RolloutRow)[]).every((k) => a[k] === b[k]);
}

export interface ListOptions {
  allNamespaces: boolean;
  /** prefix each row with this UTC timestamp (watch mode's --timestamps) */
  timestamp?: string;
}

const HEADER = [
  'NAME',
  'STRATEGY',
  'STATUS',
  'STEP',
  'SET-WEIGHT',
  'READY',
  'DESIRED',
  'UP-TO-DATE',
  'AVAILABLE',
];

// Cells are padded to about their header's width, as upstream does, so rows
// printed one at a time in watch mode still line up with the header.
const MIN_WIDTHS = [10, 9, 12, 4, 10, 5, 7, 10, 9];

function cells(row: RolloutRow): string[] {
  return [
    row.name,
    row.strategy,
    row.status,
    row.step,
    row.setWeight,
    row.ready,
    String(row.desired),
    String(row.upToDate),
    String(row.available),
  ].map((c, i) => c.padEnd(MIN_WIDTHS[i] ?? 0));
}

function header(opts: ListOptions): string[] {
  return [
    ...(opts.timestamp !== undefined ? ['TIMESTAMP'] : []),
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    ...HEADER,
  ];
}

function line(row: RolloutRow, opts: ListOptions): string[] {
  return [
    ...(opts.timestamp !== undefined ? [opts.timestamp.padEnd(20)] : []),
    ...(opts.allNamespaces ? [row.namespace.padEnd(9)] : []),
    ...cells(row),
  ];
}

/** The table with its header. */
export function renderRolloutList(rows: RolloutRow[], opts: ListOptions): string {
  return alignColumns([header(opts), ...rows.map((r) => line(r, opts))]);
}

/**
 * One row printed on its own (watch mode), aligned as it would be in a table
 * whose other rows are `context` — the rows printed so far — so the columns
 * stay under the header as long as names are no longer than those seen.
 */
export function renderRolloutListLine(row: RolloutRow, context: RolloutRow[], opts: ListOptions): string {
  const table = alignColumns([header(opts), ...context.map((r) => line(r, opts)), line(row, opts)]);
  const lines = table.split('\n');
  return `${lines[lines.length - 2] ?? ''}\n`;
}
