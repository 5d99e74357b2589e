/**
 * Helm v4 for the chart's tests: built from the Go module proxy by
 * hack/helm/build.sh into the cache (a no-op when cached), and `helm template`
 * of deploy/helm/kanary as objects.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './scenario.ts';

const root = join(import.meta.dirname, '..', '..');
export const CHART = join(root, 'deploy', 'helm', 'kanary');
const buildScript = join(root, 'hack', 'helm', 'build.sh');

let built: Promise<string> | undefined;

/** The helm binary, built once per process (progress on stderr); fails with the script's last lines. */
export function helmBinary(): Promise<string> {
  built ??= new Promise((resolve, reject) => {
    const child = spawn('bash', [buildScript], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const onLine = (l: string) => {
      lines.push(l);
      if (lines.length > 50) lines.shift();
      process.stderr.write(`${l}\n`);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('error', (err) => reject(new Error(`cannot run ${buildScript}: ${err.message}`)));
    child.once('close', (code) => {
      const bin = lines.at(-1) ?? '';
      if (code !== 0 || !bin.startsWith('/')) {
        reject(
          new Error(
            `building Helm failed (exit ${code}); it needs Go and the Go module proxy once. ` +
              `Run \`bash hack/helm/build.sh\` to see why. Last lines:\n${lines.slice(-15).join('\n')}`,
          ),
        );
        return;
      }
      resolve(join(bin, 'helm'));
    });
  });
  return built;
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export async function helm(args: string[]): Promise<HelmResult> {
  const r = spawnSync(await helmBinary(), args, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface TemplateOptions {
  release?: string;
  namespace: string;
  /** values files (paths relative to the chart, e.g. ci/namespaced-values.yaml) */
  valuesFiles?: string[];
  /** --set-json key=value pairs */
  set?: Record<string, unknown>;
  includeCrds?: boolean;
}

/** `helm template` of the chart: the objects it renders (fails with helm's message). */
export async function helmTemplate(o: TemplateOptions): Promise<Manifest[]> {
  const args = ['template', o.release ?? 'kanary', CHART, '--namespace', o.namespace];
  for (const f of o.valuesFiles ?? []) args.push('--values', join(CHART, f));
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  if (o.includeCrds) args.push('--include-crds');
  const r = await helm(args);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest)
    .filter(Boolean);
}
