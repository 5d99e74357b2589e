import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { UserError } from '../cli/errors.ts';
import type { ClusterConfig } from './config.ts';

const exec = promisify(execFile);

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await exec('ip', args);
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new UserError('the `ip` command (iproute2) is not installed', {
        hint: 'apt-get install -y iproute2',
      });
    }
    const msg = (e.stderr ?? e.message).trim();
    if (/Operation not permitted|Permission denied/i.test(msg)) {
      throw new UserError(`cannot set up the pod network (ip ${args.join(' ')}): ${msg}`, {
        hint: 'creating network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run as root or with sudo',
      });
    }
    throw new Error(`ip ${args.join(' ')} failed: ${msg}`);
  }
}

export function netnsExists(c: ClusterConfig): boolean {
  return existsSync(`/run/netns/${c.netns}`);
}

/**
 * Creates the namespace that owns the pod IPs:
 *  - inside, a `local` route makes every pod IP bindable (AnyIP), so a process
 *    per pod can listen on the pod's own address;
 *  - a veth pair links it to the host, with a host route for the pod range, so
 *    host processes (tests, nginx, curl) reach pods while nothing outside this
 *    machine can.
 */
export async function createPodNetwork(c: ClusterConfig): Promise<void> {
  const inNs = (args: string[]) => ip(['-n', c.netns, ...args]);
  await ip(['netns', 'add', c.netns]);
  await inNs(['link', 'set', 'lo', 'up']);
  await inNs(['route', 'add', 'local', c.podCidr, 'dev', 'lo', 'table', 'local']);
  await ip(['link', 'add', c.vethHost, 'type', 'veth', 'peer', 'name', c.vethNs]);
  await ip(['link', 'set', c.vethNs, 'netns', c.netns]);
  await ip(['addr', 'add', `${c.hostAddr}/30`, 'dev', c.vethHost]);
  await ip(['link', 'set', c.vethHost, 'up']);
  await inNs(['addr', 'add', `${c.nsAddr}/30`, 'dev', c.vethNs]);
  await inNs(['link', 'set', c.vethNs, 'up']);
  await inNs(['route', 'add', 'default', 'via', c.hostAddr]);
  await ip(['route', 'add', c.podCidr, 'via', c.nsAddr, 'dev', c.vethHost]);
}

/** Pids of processes still inside the namespace. */
export async function netnsPids(c: ClusterConfig): Promise<number[]> {
  if (!netnsExists(c)) return [];
  const out = await ip(['netns', 'pids', c.netns]).catch(() => '');
  return out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}

/** Removes the namespace (its end of the veth goes with it, and the host end and route with that). */
export async function deletePodNetwork(c: ClusterConfig): Promise<void> {
  for (const pid of await netnsPids(c)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const links = await ip(['-o', 'link', 'show']).catch(() => '');
  if (links.includes(`${c.vethHost}@`)) await ip(['link', 'del', c.vethHost]).catch(() => undefined);
  if (netnsExists(c)) await ip(['netns', 'del', c.netns]);
}

export async function hostLinkExists(c: ClusterConfig): Promise<boolean> {
  const links = await ip(['-o', 'link', 'show']).catch(() => '');
  return links.includes(`${c.vethHost}@`);
}
