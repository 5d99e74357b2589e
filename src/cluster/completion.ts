/**
 * Containers that run to completion (the pods of Jobs): how long each runs,
 * with which exit code, and the pod status a kubelet would then write. Pure;
 * the pod runtime (runtime.ts) keeps the timers and writes the status.
 *
 * An emulated container runs no program. Its run is, in this order:
 *  1. the image behaviour's `exitCode` / `runMs` (images.ts), when set;
 *  2. otherwise its `command` + `args` read as a tiny shell script: `sleep D`
 *     (GNU sleep: seconds, or a number with s/m/h/d, or `infinity`), `exit N`,
 *     `true`, `false`, `:`, `echo …`, joined by `&&`, `||`, `;` or newlines,
 *     run through `sh -c` / `bash -c` (options such as `-x` allowed) or
 *     directly (`[sleep, "30"]`). Any other command counts as succeeding at
 *     once: the emulation cannot run it.
 * A container with neither exits 0 at once.
 */
import { behaviourFor, type ImageBehaviours } from './images.ts';

/** setTimeout's limit (about 24.8 days); longer runs are treated as never finishing */
export const MAX_RUN_MS = 2 ** 31 - 1;

export interface ContainerRun {
  name: string;
  exitCode: number;
  /** milliseconds from the pod's start; Infinity: never finishes */
  runMs: number;
}

interface ContainerLike {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
}

export interface CompletablePod {
  metadata?: { ownerReferences?: { kind?: string; apiVersion?: string }[] };
  spec?: { restartPolicy?: string; containers?: ContainerLike[] };
}

const SHELLS = new Set([
  'sh',
  'bash',
  'ash',
  'dash',
  '/bin/sh',
  '/bin/bash',
  '/bin/ash',
  '/bin/dash',
  '/usr/bin/bash',
]);

/** GNU sleep's operand: a number with an optional s/m/h/d suffix, or `infinity`; undefined when invalid */
export function sleepMs(operand: string): number | undefined {
  if (operand === 'infinity' || operand === 'inf') return Number.POSITIVE_INFINITY;
  const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(operand);
  if (!m) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit * 1000;
}

/** One simple command: its exit code and how long it takes. */
function simpleCommand(words: string[]): { exitCode: number; ms: number; exit?: boolean } {
  const [cmd, ...rest] = words;
  switch (cmd) {
    case undefined:
    case ':':
    case 'true':
    case 'echo':
      return { exitCode: 0, ms: 0 };
    case 'false':
      return { exitCode: 1, ms: 0 };
    case 'exit': {
      const n = rest[0] === undefined ? 0 : Number(rest[0]);
      return { exitCode: Number.isInteger(n) ? ((n % 256) + 256) % 256 : 2, ms: 0, exit: true };
    }
    case 'sleep': {
      if (rest.length === 0) return { exitCode: 1, ms: 0 };
      let ms = 0;
      for (const operand of rest) {
        const one = sleepMs(operand);
        if (one === undefined) return { exitCode: 1, ms: 0 };
        ms += one;
      }
      return { exitCode: 0, ms };
    }
    default:
      return { exitCode: 0, ms: 0 };
  }
}

/** Splits a script into words and the operators `&&`, `||`, `;` (newlines are `;`); quotes group words. */
function tokenize(script: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  const flush = () => {
    if (word !== undefined) out.push(word);
    word = undefined;
  };
  for (let i = 0; i < script.length; i++) {
    const ch = script[i]!;
    if (ch === "'" || ch === '"') {
      const end = script.indexOf(ch, i + 1);
      const stop = end < 0 ? script.length : end;
      word = (word ?? '') + script.slice(i + 1, stop);
      i = stop;
    } else if (ch === ' ' || ch === '\t') flush();
    else if (ch === '\n' || ch === ';') {
      flush();
      out.push(';');
    } else if ((ch === '&' || ch === '|') && script[i + 1] === ch) {
      flush();
      out.push(ch + ch);
      i++;
    } else word = (word ?? '') + ch;
  }
  flush();
  return out;
}

/** A script's exit code and duration under the rules in the header. */
export function scriptRun(script: string): { exitCode: number; runMs: number } {
  const tokens = tokenize(script);
  let status = 0;
  let ms = 0;
  let skip = false; // the previous operator says the next command does not run
  let words: string[] = [];
  const runPending = (): boolean => {
    if (!skip) {
      const r = simpleCommand(words);
      status = r.exitCode;
      ms += r.ms;
      if (r.exit) return true;
    }
    words = [];
    return false;
  };
  for (const t of tokens) {
    if (t === '&&' || t === '||' || t === ';') {
      if (runPending()) return { exitCode: status, runMs: ms };
      skip = t === '&&' ? status !== 0 : t === '||' ? status === 0 : false;
      // a skipped command keeps the status of the last command that ran
      continue;
    }
    words.push(t);
  }
  if (words.length) runPending();
  return { exitCode: status, runMs: ms };
}

/** The run of one container from its command and args (no behaviour). */
export function commandRun(c: Pick<ContainerLike, 'command' | 'args'>): { exitCode: number; runMs: number } {
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  if (argv.length === 0) return { exitCode: 0, runMs: 0 };
  if (SHELLS.has(argv[0]!)) {
    // sh [options] -c script: the first operand after -c is the script
    let i = 1;
    let sawC = false;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('-') || a === '-' || a === '--') break;
      if (a.slice(1).includes('c')) sawC = true;
    }
    if (argv[i] === '--') i++;
    if (!sawC) return { exitCode: 0, runMs: 0 }; // a shell reading a script file: cannot be emulated
    return scriptRun(argv[i] ?? '');
  }
  return scriptRun(argv.map((a) => (/[\s;&|'"]/.test(a) ? `'${a}'` : a)).join(' '));
}

/** Whether a pod runs to completion in the emulation: a Job's pod, or one whose image behaviour says so. */
export function runsToCompletion(pod: CompletablePod, map: ImageBehaviours): boolean {
  if (isJobPod(pod)) return true;
  // kubelet restarts the containers of an Always pod forever: those keep running here
  if ((pod.spec?.restartPolicy ?? 'Always') === 'Always') return false;
  return (pod.spec?.containers ?? []).some((c) => {
    const b = behaviourFor(c.image ?? '', map);
    return b?.exitCode !== undefined || b?.runMs !== undefined;
  });
}

const isJobPod = (pod: CompletablePod) =>
  (pod.metadata?.ownerReferences ?? []).some(
    (o) => o.kind === 'Job' && (o.apiVersion ?? '').startsWith('batch/'),
  );

/** Each container's run, or undefined when the pod keeps running (a server). */
export function completionPlan(pod: CompletablePod, map: ImageBehaviours): ContainerRun[] | undefined {
  if (!runsToCompletion(pod, map)) return undefined;
  return (pod.spec?.containers ?? []).map((c) => {
    const b = behaviourFor(c.image ?? '', map);
    const fromCommand = commandRun(c);
    const runMs = b?.runMs ?? fromCommand.runMs;
    return {
      name: c.name,
      exitCode: b?.exitCode ?? fromCommand.exitCode,
      runMs: runMs > MAX_RUN_MS ? Number.POSITIVE_INFINITY : runMs,
    };
  });
}

/**
 * When a pod's run began, in epoch ms, for counting its `runMs`. `startTime` has whole seconds,
 * so it can be up to a second before the real start, and the runtime sees the pod Running some
 * watch lag after that. A pod the runtime saw before it ran began when it was first seen Running
 * (`seen`); so did one whose `seen` lies within the second after `startTime`. A pod first seen long
 * after its startTime (the runtime was down) began at startTime, so its run never also waits for
 * the runtime's downtime.
 */
export function runStartedAt(startTime: number | undefined, seen: number, seenBefore: boolean): number {
  if (startTime === undefined || seenBefore) return seen;
  return seen >= startTime && seen - startTime < 1000 ? seen : startTime;
}

/** When the whole pod finishes (its slowest container), in ms after its start. */
export const podRunMs = (plan: ContainerRun[]): number => Math.max(0, ...plan.map((r) => r.runMs));

interface PodForStatus {
  spec?: { containers?: ContainerLike[] };
  status?: { startTime?: string | Date };
}

/**
 * The status a kubelet writes when every container has exited (restartPolicy
 * Never; OnFailure is treated alike, see docs): Succeeded when all exited 0,
 * else Failed; each container terminated with its code.
 */
export function completedPodStatus(pod: PodForStatus, plan: ContainerRun[], now: Date) {
  const started = pod.status?.startTime ? new Date(pod.status.startTime) : now;
  const failed = plan.some((r) => r.exitCode !== 0);
  const at = now.toISOString();
  return {
    phase: failed ? 'Failed' : 'Succeeded',
    conditions: [
      { type: 'ContainersReady', status: 'False', reason: 'PodCompleted', lastTransitionTime: at },
      { type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: at },
    ],
    containerStatuses: (pod.spec?.containers ?? []).map((c) => {
      const r = plan.find((x) => x.name === c.name);
      const exitCode = r?.exitCode ?? 0;
      const finishedAt =
        r && Number.isFinite(r.runMs) ? new Date(Math.min(now.getTime(), started.getTime() + r.runMs)) : now;
      return {
        name: c.name,
        image: c.image ?? '',
        imageID: `kanary-emulated://${c.image ?? ''}`,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? 'Completed' : 'Error',
            startedAt: started.toISOString(),
            finishedAt: finishedAt.toISOString(),
          },
        },
      };
    }),
  };
}
