/**
 * `get rollout` and `list rollouts`, once or live (--watch). The text comes from
 * the pure renderers; this file fetches objects, decides when to redraw, and
 * leaves the terminal tidy on Ctrl-C.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { analysisRunDetail } from '../../client/analysisrun-info.ts';
import { colourEnabled } from '../../client/icons.ts';
import { type RolloutInfo, rolloutInfo } from '../../client/rollout-info.ts';
import type { Rollout, RolloutObjects } from '../../client/types.ts';
import { UserError } from '../errors.ts';
import { addKubeFlags, connect, type KubeFlags, ROLLOUTS, WATCHED_FOR_GET } from '../kube-flags.ts';
import { renderAnalysisRun } from '../render/analysisrun.ts';
import {
  type ListOptions,
  type RolloutRow,
  renderRolloutList,
  renderRolloutListLine,
  rolloutRow,
  sameRow,
} from '../render/list.ts';
import { renderRollout } from '../render/rollout.ts';

/** An AbortSignal that fires on Ctrl-C / SIGTERM (and after `timeoutSeconds`, if positive). */
export function interruptSignal(timeoutSeconds = 0): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = timeoutSeconds > 0 ? setTimeout(stop, timeoutSeconds * 1000) : undefined;
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (timer) clearTimeout(timer);
    },
  };
}

export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** JSON-friendly view of a rollout for `-o json|yaml`: the summary and tree as data. */
function infoDocument(info: RolloutInfo): unknown {
  return { ...info, icon: undefined };
}

function parseOutput(output: string | undefined): 'text' | 'json' | 'yaml' {
  if (output === undefined || output === 'text' || output === 'wide') return 'text';
  if (output === 'json' || output === 'yaml') return output;
  throw new UserError(`unknown output format "${output}"`, { hint: 'use -o json or -o yaml' });
}

function parseSeconds(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new UserError(`invalid ${flag} "${value}": use a whole number of seconds`);
  return Number(value);
}

/** Escape sequences for redrawing a screen in place without flicker. */
const CURSOR_HOME = '\u001b[H';
const CLEAR_SCREEN = '\u001b[2J';
const CLEAR_TO_LINE_END = '\u001b[K';
const CLEAR_TO_SCREEN_END = '\u001b[J';
const HIDE_CURSOR = '\u001b[?25l';
const SHOW_CURSOR = '\u001b[?25h';

/** One frame of a live view: overwrite from the top-left, clearing leftovers of the previous, longer frame. */
export function frame(text: string): string {
  return `${CURSOR_HOME}${text.replaceAll('\n', `${CLEAR_TO_LINE_END}\n`)}${CLEAR_TO_SCREEN_END}`;
}

interface GetOpts extends KubeFlags {
  watch?: boolean;
  color: boolean;
  timeoutSeconds?: string;
  output?: string;
}

async function getRollout(name: string, o: GetOpts): Promise<void> {
  const output = parseOutput(o.output);
  const timeout = parseSeconds('--timeout-seconds', o.timeoutSeconds);
  const cluster = await connect(o);
  const out = process.stdout;
  const colour = output === 'text' && colourEnabled(out, { noColor: !o.color });
  const render = (objects: RolloutObjects): string => {
    const info = rolloutInfo(objects);
    if (output === 'json') return `${JSON.stringify(infoDocument(info), null, 2)}\n`;
    if (output === 'yaml') return stringify(infoDocument(info));
    return renderRollout(info, { now: Date.now(), colour });
  };

  let objects = await cluster.rolloutObjects(name);
  if (!o.watch) {
    out.write(render(objects));
    return;
  }

  const { signal, dispose } = interruptSignal(timeout);
  const live = out.isTTY === true && output === 'text';
  let last = '';
  let lastError = '';
  const draw = () => {
    const text = render(objects);
    // on a terminal a failed refresh shows under the (then stale) view, which the next frame would otherwise erase
    if (live) out.write(frame(lastError ? `${text}\n⚠ ${lastError}\n` : text));
    else if (text !== last) out.write(last ? `\n${text}` : text);
    last = text;
  };
  if (live) out.write(HIDE_CURSOR + CLEAR_SCREEN);
  draw();

  let refreshing = false;
  let again = false;
  // fetch a fresh snapshot; changes that arrive meanwhile trigger one more fetch, never a pile-up
  const refresh = async () => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      do {
        again = false;
        objects = await cluster.rolloutObjects(name);
        lastError = '';
        draw();
      } while (again && !signal.aborted);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!live && message !== lastError) process.stderr.write(`warning: ${message}\n`);
      lastError = message;
      if (live) draw();
    } finally {
      refreshing = false;
    }
  };
  let pending: NodeJS.Timeout | undefined;
  cluster.watchChanges(
    WATCHED_FOR_GET,
    cluster.namespace,
    () => {
      // bursts of events (a scale-up touches pods, ReplicaSets and the Rollout) become one redraw
      pending ??= setTimeout(() => {
        pending = undefined;
        void refresh();
      }, 150);
    },
    signal,
  );
  // ages tick every second on a terminal; a slower full refresh covers watches that could not start
  const tick = setInterval(() => live && draw(), 1000);
  const poll = setInterval(() => void refresh(), 5000);
  try {
    await untilAborted(signal);
  } finally {
    clearInterval(tick);
    clearInterval(poll);
    if (pending) clearTimeout(pending);
    dispose();
    if (live) out.write(SHOW_CURSOR);
  }
}

interface GetRunOpts extends KubeFlags {
  color: boolean;
  output?: string;
}

async function getAnalysisRun(name: string, o: GetRunOpts): Promise<void> {
  const output = parseOutput(o.output);
  const cluster = await connect(o);
  const run = await cluster.getAnalysisRun(name);
  const detail = analysisRunDetail(run);
  const out = process.stdout;
  if (output === 'json') out.write(`${JSON.stringify({ ...detail, icon: undefined }, null, 2)}\n`);
  else if (output === 'yaml') out.write(stringify({ ...detail, icon: undefined }));
  else {
    const colour = colourEnabled(out, { noColor: !o.color });
    out.write(renderAnalysisRun(detail, { now: Date.now(), colour }));
  }
}

export function registerGetCommands(program: Command): void {
  const get = program
    .command('get')
    .description('show a rollout with its revisions, ReplicaSets and pods, or an AnalysisRun');
  addKubeFlags(
    get
      .command('rollout')
      .aliases(['ro', 'rollouts'])
      .description(
        'show a rollout: status, step, weights, images, replicas, and a tree of revisions → ReplicaSets → pods ' +
          '(⟳ Rollout, # revision, ⧉ ReplicaSet, □ Pod, Σ Experiment, α AnalysisRun, ⊞ Job)',
      )
      .argument('<rollout>', 'name of the Rollout')
      .option('-w, --watch', 'keep the view up to date until Ctrl-C')
      .option('--no-color', 'do not colour the output (also: NO_COLOR=1)')
      .option('--timeout-seconds <n>', 'with --watch, stop after this many seconds')
      .option('-o, --output <format>', 'json or yaml: the same information as data'),
  ).action((name: string, o: GetOpts) => getRollout(name, o));
  addKubeFlags(
    get
      .command('analysisrun')
      .aliases(['ar', 'analysisruns'])
      .description(
        "show an AnalysisRun: its phase and message, and each metric's provider, conditions, limits, counts " +
          'and measurements (value, phase, time, and what decided the phase)',
      )
      .argument('<analysisrun>', 'name of the AnalysisRun (`kanary get rollout` shows them with α)')
      .option('--no-color', 'do not colour the output (also: NO_COLOR=1)')
      .option('-o, --output <format>', 'json or yaml: the same information as data'),
  ).action((name: string, o: GetRunOpts) => getAnalysisRun(name, o));
}

interface ListOpts extends KubeFlags {
  allNamespaces?: boolean;
  watch?: boolean;
  timestamps?: boolean;
  name?: string;
}

function utcSeconds(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

async function listRollouts(o: ListOpts): Promise<void> {
  const cluster = await connect(o);
  const namespace = o.allNamespaces ? undefined : cluster.namespace;
  const opts = (): ListOptions => ({
    allNamespaces: o.allNamespaces === true,
    timestamp: o.timestamps ? utcSeconds() : undefined,
  });
  const keep = (r: Rollout) => !o.name || r.metadata.name === o.name;
  const rollouts = (await cluster.listRollouts(namespace)).items.filter(keep);
  const rows = rollouts.map(rolloutRow);
  if (rows.length === 0 && !o.watch) {
    process.stderr.write(
      o.allNamespaces ? 'No resources found.\n' : `No resources found in namespace "${cluster.namespace}".\n`,
    );
    return;
  }
  process.stdout.write(renderRolloutList(rows, opts()));
  if (!o.watch) return;

  const { signal, dispose } = interruptSignal();
  const key = (r: RolloutRow) => `${r.namespace}/${r.name}`;
  const printed = new Map(rows.map((r) => [key(r), r]));
  cluster.watchChanges(
    [ROLLOUTS],
    namespace,
    (type, obj) => {
      const ro = obj as Rollout;
      if (type === 'DELETED' || type === 'BOOKMARK' || type === 'ERROR' || !ro?.metadata || !keep(ro)) return;
      const row = rolloutRow(ro);
      const previous = printed.get(key(row));
      if (previous && sameRow(previous, row)) return;
      process.stdout.write(renderRolloutListLine(row, [...printed.values()], opts()));
      printed.set(key(row), row);
    },
    signal,
    (err) =>
      process.stderr.write(`warning: watch failed: ${err instanceof Error ? err.message : String(err)}\n`),
  );
  try {
    await untilAborted(signal);
  } finally {
    dispose();
  }
}

export function registerListCommands(program: Command): void {
  const list = program.command('list').description('list rollouts');
  addKubeFlags(
    list
      .command('rollouts')
      .aliases(['ro', 'rollout'])
      .description(
        'list the rollouts of a namespace (or all namespaces) with their strategy, status, step and replicas',
      )
      .option('-A, --all-namespaces', 'list rollouts of every namespace')
      .option('-w, --watch', 'after the table, print a line whenever a rollout changes (until Ctrl-C)')
      .option('--timestamps', 'print a timestamp at the start of every line')
      .option('--name <rollout>', 'only show the rollout with this name'),
  ).action((o: ListOpts) => listRollouts(o));
}
