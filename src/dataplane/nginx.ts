import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { request } from '../kube/node-http.ts';
import { withParentDeathSignal } from './parent-death.ts';
import { configHash } from './render.ts';
import type { TlsFile } from './types.ts';

const exec = promisify(execFile);

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface NginxOptions {
  binary: string;
  stateDir: string;
  log: Logger;
  /** called after nginx was restarted behind our back (crash), once it serves again */
  onRestart?: () => void;
}

export interface StateAck {
  version: number;
  patternErrors: Record<string, string>;
}

/** Directory layout of a data plane's state directory. */
export function statePaths(stateDir: string) {
  return {
    config: join(stateDir, 'nginx.conf'),
    candidate: join(stateDir, 'nginx.conf.candidate'),
    certs: join(stateDir, 'certs'),
    logs: join(stateDir, 'logs'),
    accessLog: join(stateDir, 'logs', 'access.log'),
    errorLog: join(stateDir, 'logs', 'error.log'),
    tmp: join(stateDir, 'tmp'),
    adminSocket: join(stateDir, 'admin.sock'),
    /** the server that answers 503 when nothing can serve a request (see render.ts) */
    unavailableSocket: join(stateDir, 'unavailable.sock'),
    pid: join(stateDir, 'nginx.pid'),
    /** the last state nginx acknowledged, which a fresh nginx loads at start (see kanary.lua) */
    stateFile: join(stateDir, 'state.json'),
  };
}

/**
 * nginx started as root runs its workers as `nobody`, and they open files under the state dir by
 * path: temp files for large request and response bodies, and the logs again after a rotation. A
 * private directory above the state dir (a home directory, a mkdtemp folder) would make those fail
 * later, as 500s and as metrics that silently stop; refuse such a state dir up front instead.
 */
/** A state directory nginx cannot use; the message says which directory and what to do. */
export class StateDirError extends Error {}

export function checkWorkersCanReach(stateDir: string): void {
  if (process.getuid?.() !== 0) return; // unprivileged: workers run as this user
  // the state dir itself is made 0755 by prepareStateDir; what is above it is not ours to change
  const dirs: string[] = [];
  for (let d = dirname(resolve(stateDir)); ; d = dirname(d)) {
    dirs.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of dirs.reverse()) {
    let mode: number;
    try {
      mode = statSync(d).mode;
    } catch {
      return; // not created yet: mkdir makes it (and what is below it) 0755
    }
    if ((mode & 0o001) === 0) {
      throw new StateDirError(
        `nginx's workers (user nobody) cannot reach the state directory ${stateDir}: ${d} is mode ` +
          `${(mode & 0o777).toString(8).padStart(4, '0')}, without execute permission for others. ` +
          'Choose a --state-dir under a directory they can traverse (e.g. /var/lib/kanary-ingress or /tmp)',
      );
    }
  }
}

export function prepareStateDir(stateDir: string): void {
  const p = statePaths(stateDir);
  checkWorkersCanReach(stateDir);
  mkdirSync(stateDir, { recursive: true });
  // nginx workers run unprivileged and must traverse to their temp directories
  chmodSync(stateDir, 0o755);
  mkdirSync(p.logs, { recursive: true });
  mkdirSync(p.tmp, { recursive: true });
  chmodSync(p.tmp, 0o755);
  mkdirSync(p.certs, { recursive: true, mode: 0o700 });
}

/**
 * Supervises one nginx master process: validates candidate configurations
 * with `nginx -t`, reloads gracefully (SIGHUP) and confirms the new workers
 * serve the new configuration, pushes dynamic state to the Lua runtime, and
 * restarts nginx with the last good configuration if it dies.
 */
export class NginxProcess {
  private readonly opts: NginxOptions;
  private readonly paths: ReturnType<typeof statePaths>;
  private child: ChildProcess | undefined;
  private stopping = false;
  private lastGoodConfig: string | undefined;
  private lastState: string | undefined;
  private restartDelayMs = 500;
  /** the master's workers as last seen: they outlive a killed master and hold the ports */
  private workerPids = new Set<number>();
  private workerWatch: NodeJS.Timeout | undefined;
  reloads = 0;
  /** true from the SIGHUP until the old workers stopped accepting (or the reload failed) */
  reloading = false;
  lastReloadOk = true;
  lastReloadAt = 0;

  constructor(opts: NginxOptions) {
    this.opts = opts;
    this.paths = statePaths(opts.stateDir);
    prepareStateDir(opts.stateDir);
  }

  get activeConfig(): string | undefined {
    return this.lastGoodConfig;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Writes TLS files that a candidate configuration refers to; removes the ones no longer used. */
  writeTlsFiles(files: TlsFile[], keepOthers: boolean): void {
    const wanted = new Set(files.map((f) => f.name));
    for (const f of files) writeFileSync(join(this.paths.certs, f.name), f.content, { mode: 0o600 });
    if (keepOthers) return;
    for (const name of readdirSync(this.paths.certs)) {
      if (!wanted.has(name) && !name.startsWith('default.'))
        rmSync(join(this.paths.certs, name), { force: true });
    }
  }

  /** `nginx -t` on a candidate; returns nginx's own error text when it fails. */
  async test(config: string): Promise<{ ok: true } | { ok: false; error: string }> {
    writeFileSync(this.paths.candidate, config);
    try {
      await exec(
        this.opts.binary,
        ['-t', '-q', '-p', this.opts.stateDir, '-c', this.paths.candidate, '-e', 'stderr'],
        {
          timeout: 30_000,
        },
      );
      return { ok: true };
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const text = (e.stderr || e.message)
        .split('\n')
        .filter((l) => l.includes('[emerg]') || l.includes('[error]') || l.includes('[crit]'))
        .join('\n');
      return { ok: false, error: text.replaceAll(this.paths.candidate, 'nginx.conf') || e.message };
    }
  }

  /** Starts nginx with a configuration that passed `test`. */
  async start(config: string): Promise<void> {
    this.stopping = false;
    await this.stopLeftoverMaster();
    this.writeConfig(config);
    await this.spawnMaster();
    await this.waitForConfig(configHash(config), 15_000);
    this.lastGoodConfig = config;
    await this.recordWorkers();
    this.workerWatch = setInterval(() => void this.recordWorkers(), 5000);
    this.workerWatch.unref();
  }

  /** A master left running by an earlier run on the same state directory (its controller was killed). */
  private async stopLeftoverMaster(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.paths.pid, 'utf8').trim());
    } catch {
      return;
    }
    if (!pid || !isOurNginx(pid, 'master', this.opts.stateDir)) return;
    this.opts.log.warn({ pid }, 'stopping the nginx left running by an earlier run on this state directory');
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 100 && isOurNginx(pid, 'master', this.opts.stateDir); i++) await sleep(100);
  }

  private async recordWorkers(): Promise<void> {
    const pid = this.child?.pid;
    if (pid) this.workerPids = new Set(childPids(pid));
  }

  /** After the master died: its workers still serve the old ports; ask them to finish and go. */
  private async stopOrphanedWorkers(): Promise<void> {
    const orphans = [...this.workerPids].filter((pid) => isOurNginx(pid, 'worker'));
    for (const pid of orphans) process.kill(pid, 'SIGQUIT');
    // nothing listens until they are gone and the new master has bound the ports: look often
    for (let i = 0; i < 2000 && orphans.some((pid) => isOurNginx(pid, 'worker')); i++) await sleep(5);
    for (const pid of orphans) if (isOurNginx(pid, 'worker')) process.kill(pid, 'SIGKILL');
    this.workerPids.clear();
  }

  private writeConfig(config: string): void {
    const tmp = `${this.paths.config}.tmp`;
    writeFileSync(tmp, config);
    renameSync(tmp, this.paths.config);
  }

  private async spawnMaster(): Promise<void> {
    // a killed nginx leaves its unix sockets behind, and listen() fails on an existing file
    rmSync(this.paths.adminSocket, { force: true });
    rmSync(this.paths.unavailableSocket, { force: true });
    // never outlives this process, even a SIGKILLed one (parent-death.ts)
    const master = withParentDeathSignal(this.opts.binary, [
      '-p',
      this.opts.stateDir,
      '-c',
      this.paths.config,
      '-e',
      this.paths.errorLog,
    ]);
    const child = spawn(master.command, master.args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: master.env,
      // its own process group: a terminal's Ctrl-C (SIGINT to the whole foreground group) would stop
      // nginx at once, without the drain that stop() asks for
      detached: true,
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) =>
        reject(new Error(`nginx exited during start (code ${code}, signal ${signal}): ${stderr.trim()}`)),
      );
      child.once('error', reject);
    });
    exited.catch(() => undefined);
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping || this.lastGoodConfig === undefined) return;
      this.opts.log.error(
        { code, signal, stderr: stderr.trim() },
        'nginx exited unexpectedly; restarting it',
      );
      void this.restartAfterCrash();
    });
    // the admin socket appears once the master has bound its listeners and loaded the config
    await Promise.race([exited, this.waitForSocket(15_000)]);
  }

  private async restartAfterCrash(): Promise<void> {
    await sleep(this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    if (this.stopping || !this.lastGoodConfig) return;
    try {
      await this.stopOrphanedWorkers();
      this.writeConfig(this.lastGoodConfig);
      await this.spawnMaster();
      await this.waitForConfig(configHash(this.lastGoodConfig), 15_000);
      if (this.lastState) await this.postState(this.lastState);
      await this.recordWorkers();
      this.restartDelayMs = 500;
      this.opts.onRestart?.();
    } catch (err) {
      this.opts.log.error({ error: (err as Error).message }, 'restarting nginx failed; retrying');
      if (!this.child) void this.restartAfterCrash();
    }
  }

  /**
   * Graceful reload to a configuration that passed `test`. Resolves once new
   * workers answer with the new configuration; on failure the previous
   * configuration stays in place (nginx keeps its old workers).
   */
  async reload(config: string): Promise<{ ok: true } | { ok: false; error: string }> {
    const child = this.child;
    if (!child?.pid) return { ok: false, error: 'nginx is not running' };
    const previous = this.lastGoodConfig;
    await this.recordWorkers();
    const oldWorkers = [...this.workerPids];
    this.writeConfig(config);
    this.reloading = true;
    process.kill(child.pid, 'SIGHUP');
    this.lastReloadAt = Date.now();
    try {
      await this.waitForConfig(configHash(config), 10_000);
      // until the old workers close their listeners, a new connection may still get the old configuration
      await this.waitForOldWorkers(oldWorkers, 10_000);
      this.lastGoodConfig = config;
      this.reloads++;
      await this.recordWorkers();
      this.lastReloadOk = true;
      return { ok: true };
    } catch {
      this.lastReloadOk = false;
      if (previous !== undefined) this.writeConfig(previous);
      return { ok: false, error: `nginx did not load the new configuration: ${await this.lastErrorLines()}` };
    } finally {
      this.reloading = false;
    }
  }

  private async waitForOldWorkers(pids: number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const accepting = (pid: number) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        // nginx retitles a worker once it has closed its listening sockets
        return (
          cmd.startsWith('nginx: worker process') &&
          !cmd.includes('shutting down') &&
          !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
        );
      } catch {
        return false;
      }
    };
    while (pids.some(accepting)) {
      if (Date.now() > deadline) throw new Error('old nginx workers still accept connections');
      await sleep(5);
    }
  }

  private async lastErrorLines(): Promise<string> {
    try {
      const { stdout } = await exec('tail', ['-n', '5', this.paths.errorLog]);
      return stdout
        .split('\n')
        .filter((l) => /\[(emerg|alert|crit|error)\]/.test(l))
        .join('\n');
    } catch {
      return '';
    }
  }

  /** Stores the dynamic state in nginx's shared memory, and on disk for the next nginx to start with. */
  async pushState(state: object): Promise<StateAck> {
    const body = JSON.stringify(state);
    const ack = await this.postState(body);
    this.lastState = body;
    this.writeStateFile(body);
    return ack;
  }

  /**
   * Writes the state a fresh nginx loads into shared memory before its workers accept anything
   * (atomically: nginx never reads half a file). Called with the initial state before `start`.
   */
  writeStateFile(body: string): void {
    // nginx reads the version from the first bytes, without decoding the whole file (kanary.lua)
    if (!/^\{"version":\d+[,}]/.test(body)) throw new Error('the state must start with its version');
    const tmp = `${this.paths.stateFile}.tmp`;
    writeFileSync(tmp, body);
    renameSync(tmp, this.paths.stateFile);
  }

  private async postState(body: string): Promise<StateAck> {
    const res = await this.admin('POST', '/state', body);
    if (res.status !== 200) throw new Error(`nginx rejected the state: ${res.status} ${res.body}`);
    return JSON.parse(res.body) as StateAck;
  }

  private async waitForSocket(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.admin('GET', '/config');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`nginx admin socket not ready: ${(err as Error).message}`);
        await sleep(20);
      }
    }
  }

  private async waitForConfig(hash: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const res = await this.admin('GET', '/config');
        last = res.body.trim();
        // two consecutive answers: the old workers stop accepting right after the new ones start
        if (last === `config ${hash}`) {
          const again = await this.admin('GET', '/config');
          if (again.body.trim() === last) return;
        }
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for config ${hash}; last answer: ${last}`);
      await sleep(10);
    }
  }

  admin(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.paths.adminSocket,
          method,
          path,
          headers: { host: 'kanary-admin' },
          timeout: 5000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('admin request timed out')));
      req.on('error', reject);
      if (body !== undefined) {
        req.setHeader('content-type', 'application/json');
        req.setHeader('content-length', Buffer.byteLength(body));
        req.write(body);
      }
      req.end();
    });
  }

  /** Asks nginx to reopen its log files (after the access log was rotated). */
  reopenLogs(): void {
    if (this.child?.pid) process.kill(this.child.pid, 'SIGUSR1');
  }

  /** Graceful stop: SIGQUIT lets in-flight requests finish; SIGKILL after the timeout. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.workerWatch);
    const child = this.child;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }
}

/** Live child processes of a pid, from /proc (no dependency on procps). */
export function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // fields after the command name: state, ppid, …
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent && state !== 'Z') out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * Whether a pid is still an nginx process of the given role (pids are reused);
 * for a master, also that it runs on our state directory.
 */
function isOurNginx(pid: number, role: 'master' | 'worker', stateDir?: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    if (!cmd.startsWith(`nginx: ${role} process`)) return false;
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(state)) return false; // exited, not yet reaped
    return stateDir === undefined || cmd.includes(` -p ${stateDir} `);
  } catch {
    return false;
  }
}

/** A self-signed certificate for HTTPS requests to hosts that have none, like ingress-nginx's fake certificate. */
export async function ensureDefaultCert(
  stateDir: string,
): Promise<{ certFile: string; keyFile: string } | undefined> {
  const p = statePaths(stateDir);
  const certFile = join(p.certs, 'default.crt');
  const keyFile = join(p.certs, 'default.key');
  try {
    await exec(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        '/CN=Kanary Default Certificate',
      ].concat(['-keyout', keyFile, '-out', certFile]),
      { timeout: 30_000 },
    );
    return { certFile, keyFile };
  } catch {
    return undefined;
  }
}
