/**
 * Upstream test data (Argo Rollouts' and Argo CD's own manifests and
 * testdata), read in place from the pinned Go module zips: `go mod download`
 * fetches them once from the Go module proxy, checks them against the Go
 * checksum database and extracts them into GOMODCACHE, where the tests read
 * them. Nothing upstream is copied into this repository.
 *
 *   upstreamPath('argo-rollouts', 'manifests/crds/rollout-crd.yaml')
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The upstream modules the tests read, at the versions Kanary is checked against. */
export const UPSTREAM_MODULES = {
  'argo-rollouts': { path: 'github.com/argoproj/argo-rollouts', version: 'v1.10.2' },
  'argo-cd': { path: 'github.com/argoproj/argo-cd/v3', version: 'v3.6.1' },
} as const;
export type UpstreamModule = keyof typeof UPSTREAM_MODULES;

/** GOMODCACHE's spelling of a module path: upper-case letters become "!" + lower case. */
export function escapeModulePath(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

interface DownloadInfo {
  Dir?: string;
  Error?: string;
}

/**
 * `go mod download -json` reports a module newer than the local Go toolchain
 * (`requires go >= …`) as an error even though it downloaded, verified and
 * extracted the zip; we only read files, so the extracted folder is enough.
 */
const TOOLCHAIN_ONLY = /requires go >= \S+ \(running go/;

const dirs = new Map<UpstreamModule, string>();

function goEnv(name: string): string {
  return execFileSync('go', ['env', name], { encoding: 'utf8', env: goProcessEnv() }).trim();
}

/** GOTOOLCHAIN=local: never download another Go toolchain just to read a module's files. */
function goProcessEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local' };
}

/** Downloads (once, cached by Go) and returns the extracted folder of an upstream module. */
export function upstreamModuleDir(name: UpstreamModule): string {
  const cached = dirs.get(name);
  if (cached) return cached;
  const { path, version } = UPSTREAM_MODULES[name];
  const what = `${path}@${version}`;
  let out: string;
  try {
    out = execFileSync('go', ['mod', 'download', '-json', what], {
      encoding: 'utf8',
      env: goProcessEnv(),
      cwd: '/', // outside any module, so no go.mod of ours is consulted
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10 * 60_000,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        `reading upstream test data needs Go (to fetch ${what} from the Go module proxy): go not found on PATH`,
      );
    }
    out = e.stdout ?? '';
    if (!out.trim()) throw new Error(`go mod download ${what} failed: ${(e.stderr ?? e.message).trim()}`);
  }
  let info: DownloadInfo;
  try {
    info = JSON.parse(out) as DownloadInfo;
  } catch {
    throw new Error(`go mod download -json ${what} printed something that is not JSON: ${out.slice(0, 200)}`);
  }
  let dir = info.Dir;
  if (!dir && info.Error && TOOLCHAIN_ONLY.test(info.Error)) {
    dir = join(goEnv('GOMODCACHE'), `${escapeModulePath(path)}@${version}`);
  }
  if (!dir || !existsSync(dir)) {
    throw new Error(
      `cannot read upstream test data ${what}: ${info.Error ?? 'go mod download reported no folder'} ` +
        '(it is fetched from the Go module proxy, GOPROXY; check network access or GOFLAGS/GOPROXY)',
    );
  }
  dirs.set(name, dir);
  return dir;
}

/** A path inside an upstream module, e.g. `upstreamPath('argo-cd', 'resource_customizations/…')`. */
export function upstreamPath(name: UpstreamModule, ...parts: string[]): string {
  const p = join(upstreamModuleDir(name), ...parts);
  if (!existsSync(p)) {
    const { path, version } = UPSTREAM_MODULES[name];
    throw new Error(`${parts.join('/')} does not exist in ${path}@${version}`);
  }
  return p;
}

/**
 * Fetches every upstream module the tests read (a no-op when Go has them
 * cached), reporting each one, so a first run says what it downloads.
 */
export function prefetchUpstream(progress: (message: string) => void): void {
  for (const name of Object.keys(UPSTREAM_MODULES) as UpstreamModule[]) {
    const { path, version } = UPSTREAM_MODULES[name];
    progress(`upstream test data: ${path}@${version} (go mod download, cached after the first run)`);
    upstreamModuleDir(name);
  }
}
