/** Readers of /proc for the benches: one parse of /proc/<pid>/stat for all of them. */
import { readFileSync } from 'node:fs';

/** USER_HZ on Linux: the unit of the times in /proc/<pid>/stat */
const TICKS = 100;

/**
 * The fields of /proc/<pid>/stat after the command name, from `state` on (so utime is [11],
 * stime [12], cutime [13], cstime [14]); the name is cut at its last `)`, as it may hold any.
 */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (utime + stime) a process has used so far. Throws once it has gone. */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** CPU seconds (cutime + cstime) of this process's children that have exited and been waited for. */
export function exitedChildrenCpuSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / TICKS;
}
