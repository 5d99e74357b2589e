/**
 * The page's assets. They are built with esbuild at `npm install` (the
 * `prepare` script runs scripts/build-dashboard.ts, writing dist/dashboard/);
 * never committed. In a checkout whose UI sources are newer than that build
 * (or where it was never made) and esbuild is installed, the command builds
 * them in memory at start instead (about 100 ms), so a developer never sees a
 * stale page. Nothing is fetched from the network at run time: the bundle
 * holds Preact and the app, the page links nothing else.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const UI_DIR = join(import.meta.dirname, 'ui');
export const ENTRY = join(UI_DIR, 'main.tsx');
export const DIST_DIR = join(ROOT, 'dist', 'dashboard');

export interface Assets {
  'app.js': string;
  'app.css': string;
  /** where the assets came from, for the start-up line */
  source: 'dist' | 'built';
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** esbuild's options for the page: one ES module for current browsers, minified, no source maps. */
export function buildOptions() {
  return {
    entryPoints: [ENTRY],
    entryNames: 'app',
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    jsx: 'automatic' as const,
    jsxImportSource: 'preact',
    legalComments: 'none' as const,
    logLevel: 'silent' as const,
  };
}

/** Builds the bundle in memory. */
export async function buildAssets(): Promise<Assets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...buildOptions(), write: false, outdir: DIST_DIR });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
  return { 'app.js': js, 'app.css': readFileSync(join(UI_DIR, 'app.css'), 'utf8'), source: 'built' };
}

/** The built assets: dist/dashboard when it is current, else a fresh in-memory build. */
export async function loadAssets(): Promise<Assets> {
  const js = join(DIST_DIR, 'app.js');
  const css = join(DIST_DIR, 'app.css');
  const haveDist = existsSync(js) && existsSync(css);
  const haveSources = existsSync(ENTRY);
  if (haveDist && (!haveSources || statSync(js).mtimeMs >= newest(UI_DIR))) {
    return { 'app.js': readFileSync(js, 'utf8'), 'app.css': readFileSync(css, 'utf8'), source: 'dist' };
  }
  try {
    return await buildAssets();
  } catch (err) {
    throw new Error(
      `the dashboard's page is not built (no ${js}) and cannot be built here: ${(err as Error).message}; ` +
        'run `npm install` (its prepare script builds it) or `node scripts/build-dashboard.ts`',
    );
  }
}

export function indexHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kanary dashboard</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
}
