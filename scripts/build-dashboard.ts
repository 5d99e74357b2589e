/**
 * Builds the dashboard's page into dist/dashboard/ (app.js, app.css): run by
 * npm's `prepare` script at `npm install`, and before `npm pack`/`publish`.
 * `kanary dashboard` serves these files, or builds them in memory when the
 * UI sources are newer (a checkout being edited); see src/dashboard/assets.ts.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildOptions, DIST_DIR, UI_DIR } from '../src/dashboard/assets.ts';

mkdirSync(DIST_DIR, { recursive: true });
const result = await build({ ...buildOptions(), outdir: DIST_DIR, metafile: true, logLevel: 'warning' });
copyFileSync(join(UI_DIR, 'app.css'), join(DIST_DIR, 'app.css'));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(
  `dashboard page built in ${DIST_DIR} (${(bytes / 1024).toFixed(1)} KiB of JavaScript)\n`,
);
