import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcessRecord {
  name: string;
  pid: number;
  /** kernel start time of the process (clock ticks since boot): guards against pid reuse */
  startTime: number;
  log: string;
}

/** Field 22 of /proc/<pid>/stat, or undefined when the process does not exist. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: skip past the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return undefined; // zombie: exited, not yet reaped
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

export function isRunning(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  return processStartTime(rec.pid) === rec.startTime;
}

/**
 * Starts a process that outlives this one: its own session and process group,
 * output appended to a log file. The caller records the returned pid.
 */
export function spawnDaemon(name: string, command: string, args: string[], log: string): ProcessRecord {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    child.unref();
    const startTime = processStartTime(child.pid);
    if (startTime === undefined) throw new Error(`${name} exited immediately; see ${log}`);
    return { name, pid: child.pid, startTime, log };
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM to the process group, then SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopProcess(rec: ProcessRecord, graceMs = 10_000): Promise<void> {
  if (!isRunning(rec)) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-rec.pid, sig);
    } catch {
      try {
        process.kill(rec.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(rec) && Date.now() < deadline) await sleep(100);
  if (isRunning(rec)) {
    signalGroup('SIGKILL');
    while (isRunning(rec)) await sleep(50);
  }
}

export function tailFile(path: string, lines = 10): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '';
  }
}
