import { setprivWithPdeathsig } from '../../bin/handover.js';

/** The environment variable that tells nginx's Lua which process started it (lua/kanary_guard.lua). */
export const INGRESS_PID_ENV = 'KANARY_INGRESS_PID';

let setpriv: string | null | undefined;

/**
 * How to start nginx so that it never outlives this process, however this process ends (SIGKILL
 * included, which nothing can catch):
 * - under `setpriv --pdeathsig TERM` (util-linux) when it is on PATH: the kernel sends the master
 *   SIGTERM (nginx's fast shutdown, which stops its workers) when the thread that forked it exits.
 *   child_process.spawn forks from the calling JavaScript thread: from the main thread, as
 *   NginxProcess does, that is when this process exits (from a worker_thread it would be when that
 *   worker ends; measured: such a child gets the signal then). The setting
 *   survives setpriv's execve of nginx (it is reset only for set-user-ID or file-capability
 *   binaries);
 * - with this process's pid in its environment, from which nginx's own Lua sets the same signal
 *   (covering no setpriv, or an nginx binary with file capabilities), refuses to start when this
 *   process is already gone, and lets workers whose master died stop themselves.
 */
export function withParentDeathSignal(
  binary: string,
  args: string[],
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (setpriv === undefined) setpriv = setprivWithPdeathsig() ?? null;
  const env = { ...process.env, [INGRESS_PID_ENV]: String(process.pid) };
  return setpriv
    ? { command: setpriv, args: ['--pdeathsig', 'TERM', '--', binary, ...args], env }
    : { command: binary, args, env };
}
