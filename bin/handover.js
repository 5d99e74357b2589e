// Runs kanary under the Node 24 that `npm install` put in node_modules when an older Node started
// bin/kanary.js. Plain JavaScript that Node 20 runs: no type annotations here.
//
// The older Node cannot exec (process.execve is Node >= 22.15/23.11), so the bundled Node runs as a
// child, and this process stands in for it towards whoever started kanary (a shell, systemd, a
// supervisor, a script):
// - signals sent to this process are passed on to the child, except those a terminal has already
//   delivered to the child itself (Ctrl-C goes to the whole foreground process group);
// - this process ends the way the child ended: the same exit code, or death by the same signal;
// - the child dies with this process even when it is SIGKILLed (which cannot be caught): it runs
//   under `setpriv --pdeathsig TERM` (util-linux) when that is on PATH, so the kernel sends it SIGTERM
//   when this process ends; and it watches its parent pid itself (see watchWrapper), for systems
//   without setpriv and for the moment between fork and setpriv's prctl.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, join } from 'node:path';

/** Signals passed on to the child. SIGUSR1 opens the real process's inspector, as it would without us. */
export const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Tell the child which process to watch, and whether the kernel does it already (see watchWrapper). */
export const WRAPPER_PID_ENV = 'KANARY_WRAPPER_PID';
export const WRAPPER_POLL_ENV = 'KANARY_WRAPPER_POLL';

/** Signals of a crash: the child's core dump is the one that matters, so the wrapper does not re-raise them. */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS', 'SIGTRAP']);

/** Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\, hangup). */
const TERMINAL_SIGNALS = new Set(['SIGINT', 'SIGQUIT', 'SIGHUP']);

/**
 * The terminal fields of /proc/<pid>/stat: process group, controlling terminal (0: none) and the
 * terminal's foreground process group (-1: none). Undefined when the text is not a stat line.
 */
export function parseStat(text) {
  // the command name (field 2) may contain spaces and parentheses: count from the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [pgrp, ttyNr, tpgid] = [Number(rest[2]), Number(rest[4]), Number(rest[5])];
  if (![pgrp, ttyNr, tpgid].every(Number.isInteger)) return undefined;
  return { pgrp, ttyNr, tpgid };
}

/**
 * Whether the child has already received `signal` from the terminal, as this process did. The child
 * shares our process group, so it did when we are the terminal's foreground group (Ctrl-C, Ctrl-\),
 * and, for SIGHUP, when we started on a terminal and have lost it (a hangup reaches the foreground
 * group from the kernel and every job from the shell). Passing it on as well would deliver it twice,
 * and kanary takes a second SIGINT during its shutdown as "stop now".
 */
export function deliveredByTerminal(signal, stat, startedOnTerminal) {
  if (!TERMINAL_SIGNALS.has(signal) || !stat) return false;
  if (stat.ttyNr !== 0 && stat.tpgid === stat.pgrp) return true;
  return signal === 'SIGHUP' && startedOnTerminal && stat.ttyNr === 0;
}

/**
 * How to end once the child ended: its exit code; or death by its signal, which the parent then sees
 * as it would have seen the child's (a shell stops a script on a child's death by SIGINT), with
 * 128 + the signal number, as a shell reports it, for a crash signal or if the signal did not end us.
 */
export function exitPlan(code, signal) {
  if (signal) {
    const shellCode = 128 + (constants.signals[signal] ?? 0);
    return CRASH_SIGNALS.has(signal) ? { code: shellCode } : { raise: signal, code: shellCode };
  }
  return { code: code ?? 1 };
}

/** An executable named `name` in a PATH-like list of directories, or undefined. */
export function findOnPath(name, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      /* not in this directory */
    }
  }
  return undefined;
}

/** `setpriv` from PATH if it supports --pdeathsig (util-linux >= 2.33), else undefined. */
export function setprivWithPdeathsig(path = process.env.PATH ?? '') {
  const setpriv = findOnPath('setpriv', path);
  if (!setpriv) return undefined;
  const probe = spawnSync(setpriv, ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
  return probe.status === 0 ? setpriv : undefined;
}

function readStat() {
  try {
    return parseStat(readFileSync('/proc/self/stat', 'utf8'));
  } catch {
    return undefined; // not Linux: every signal is passed on
  }
}

/** Runs `node args` as described at the top of this file; never returns. */
export function runBundled(node, args) {
  const setpriv = setprivWithPdeathsig();
  const [command, argv] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', node, ...args]] : [node, args];
  const startedOnTerminal = (readStat()?.ttyNr ?? 0) !== 0;
  const child = spawn(command, argv, {
    stdio: 'inherit',
    env: {
      ...process.env,
      [WRAPPER_PID_ENV]: String(process.pid),
      ...(setpriv ? {} : { [WRAPPER_POLL_ENV]: '1' }),
    },
  });
  const pass = (signal) => {
    if (deliveredByTerminal(signal, readStat(), startedOnTerminal)) return;
    try {
      child.kill(signal);
    } catch {
      /* exited meanwhile: the exit handler ends us */
    }
  };
  for (const signal of FORWARDED) process.on(signal, pass);
  child.once('error', (err) => {
    process.stderr.write(`kanary: could not start ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => {
    const plan = exitPlan(code, signal);
    for (const s of FORWARDED) process.off(s, pass);
    if (plan.raise) process.kill(process.pid, plan.raise);
    process.exit(plan.code);
  });
}

/**
 * In the child (the bundled Node): ends this process with SIGTERM, as setpriv's parent-death signal
 * would, once the wrapper `pid` is no longer its parent. Checked at once, which covers a wrapper that
 * died before setpriv's prctl took effect; and then every `intervalMs` when `poll` (no setpriv: nothing
 * else would tell). Only once: a second SIGTERM during the shutdown would stop kanary at once. A
 * timer that does not keep the process alive.
 */
export function watchWrapper(pid, poll, intervalMs = 1000) {
  const orphaned = () => process.ppid !== pid;
  if (orphaned()) {
    process.kill(process.pid, 'SIGTERM');
    return;
  }
  if (!poll) return;
  const timer = setInterval(() => {
    if (!orphaned()) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
}
