/**
 * `status`: for CI pipelines. Waits until the Rollout is Healthy (exit 0) or
 * Degraded (exit 1, with the reason), or the timeout passes (exit 2). Prints a
 * `Status - Message` line whenever either changes, like upstream; on a terminal
 * a spinner line on stderr shows that it is still waiting.
 */
import type { Command } from 'commander';
import { parseDuration } from '../../client/format.ts';
import {
  currentSetWeight,
  type PhaseAndMessage,
  rolloutPhase,
  stepText,
  strategyName,
} from '../../client/rollout-info.ts';
import type { Rollout } from '../../client/types.ts';
import { UserError } from '../errors.ts';
import { addKubeFlags, connect, type KubeFlags, ROLLOUTS } from '../kube-flags.ts';
import { interruptSignal, untilAborted } from './get.ts';

export const EXIT_DEGRADED = 1;
export const EXIT_TIMEOUT = 2;

export function statusLine({ phase, message }: PhaseAndMessage): string {
  return message ? `${phase} - ${message}` : phase;
}

export type Verdict =
  | { done: false }
  | { done: true; ok: true; note?: string }
  | { done: true; ok: false; error: string; exitCode: number };

/** Whether waiting is over for this phase. */
export function verdict(ro: Rollout, opts: { pausedOk: boolean }): Verdict {
  const { phase, message } = rolloutPhase(ro);
  if (phase === 'Healthy') return { done: true, ok: true };
  if (phase === 'Degraded') {
    return {
      done: true,
      ok: false,
      error: `The rollout is in a degraded state with message: ${message}`,
      exitCode: EXIT_DEGRADED,
    };
  }
  if (phase === 'Paused' && opts.pausedOk) {
    const name = ro.metadata.name ?? '';
    return {
      done: true,
      ok: true,
      note: `rollout '${name}' is paused (${message}); continue it with: kanary promote ${name}`,
    };
  }
  return { done: false };
}

function progressText(ro: Rollout, elapsedMs: number): string {
  const parts = [`waiting ${Math.floor(elapsedMs / 1000)}s`];
  if (strategyName(ro) === 'Canary') {
    const step = stepText(ro);
    if (step) parts.push(`step ${step}`);
    parts.push(`weight ${currentSetWeight(ro)}%`);
  }
  const s = ro.status ?? {};
  parts.push(
    `${s.updatedReplicas ?? 0}/${ro.spec?.replicas ?? 1} updated, ${s.availableReplicas ?? 0} available`,
  );
  return parts.join(' · ');
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

interface StatusOpts extends KubeFlags {
  watch: boolean;
  timeout?: string;
  pausedOk?: boolean;
}

async function status(name: string, o: StatusOpts): Promise<void> {
  const timeoutMs = o.timeout === undefined ? 0 : parseDuration(o.timeout);
  if (timeoutMs === undefined) {
    throw new UserError(`invalid --timeout "${o.timeout}": use a duration like 90s or 10m (0 waits forever)`);
  }
  const cluster = await connect(o);
  let ro = await cluster.getRollout(name);
  const opts = { pausedOk: o.pausedOk === true };

  if (!o.watch) {
    const pm = rolloutPhase(ro);
    process.stdout.write(
      `${pm.phase === 'Healthy' || pm.phase === 'Degraded' ? pm.phase : statusLine(pm)}\n`,
    );
    const v = verdict(ro, opts);
    if (v.done && !v.ok) throw new UserError(v.error, { exitCode: v.exitCode });
    return;
  }

  const started = Date.now();
  const { signal, dispose } = interruptSignal(timeoutMs / 1000);
  const spinner = process.stderr.isTTY === true;
  let frame = 0;
  const clearSpinner = () => spinner && process.stderr.write('\r\u001b[K');
  let printed = '';
  let result = { done: false } as Verdict;
  const observe = (next: Rollout) => {
    ro = next;
    const line = statusLine(rolloutPhase(ro));
    if (line !== printed) {
      clearSpinner();
      process.stdout.write(`${line}\n`);
      printed = line;
    }
    result = verdict(ro, opts);
    if (result.done) finish.abort();
  };
  const finish = new AbortController();
  const stop = AbortSignal.any([signal, finish.signal]);

  observe(ro);
  if (!result.done) {
    cluster.watchChanges(
      [ROLLOUTS],
      cluster.namespace,
      (_type, obj) => {
        const changed = obj as Rollout;
        if (changed?.metadata?.name === name) observe(changed);
      },
      stop,
    );
    // a poll as well, so a watch that cannot start (RBAC without watch) still gets an answer
    const poll = setInterval(() => {
      cluster.getRollout(name).then(observe, (err: unknown) => {
        clearSpinner();
        process.stderr.write(`warning: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    }, 2000);
    const spin = setInterval(() => {
      if (!spinner) return;
      frame = (frame + 1) % SPINNER.length;
      process.stderr.write(`\r\u001b[K${SPINNER[frame]} ${progressText(ro, Date.now() - started)}`);
    }, 100);
    try {
      await untilAborted(stop);
    } finally {
      clearInterval(poll);
      clearInterval(spin);
      clearSpinner();
      dispose();
      finish.abort();
    }
  } else {
    dispose();
  }

  const final: Verdict = result;
  if (!final.done) {
    const interrupted = timeoutMs === 0 || Date.now() - started < timeoutMs;
    throw new UserError(
      interrupted ? 'interrupted before the rollout finished' : 'Rollout status watch exceeded timeout',
      {
        exitCode: interrupted ? 130 : EXIT_TIMEOUT,
        hint: `last status: ${statusLine(rolloutPhase(ro))}`,
      },
    );
  }
  if (!final.ok) throw new UserError(final.error, { exitCode: final.exitCode });
  if (final.note) process.stderr.write(`${final.note}\n`);
}

function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new UserError(`invalid boolean "${value}": use true or false`);
}

export function registerStatusCommand(program: Command): void {
  addKubeFlags(
    program
      .command('status')
      .description(
        'wait until a rollout is Healthy (exit 0) or Degraded (exit 1, with the reason); exit 2 when --timeout passes',
      )
      .argument('<rollout>', 'name of the Rollout')
      .option(
        '-w, --watch [bool]',
        'wait for the outcome (--watch=false prints the status once)',
        parseBool,
        true,
      )
      .option('-t, --timeout <duration>', 'give up after this long, e.g. 90s or 10m (0: wait forever)', '0')
      .option('--paused-ok', 'a paused rollout (waiting for promotion) also ends the wait with exit 0'),
  ).action((name: string, o: StatusOpts) => status(name, o));
}
