/**
 * A real headless Chromium for the dashboard tests: Debian's `chromium`
 * (installed by scripts/ensure-deps.sh) driven by playwright-core, which
 * downloads no browser of its own. Screenshots go to test-results/ (kept as
 * artifacts, not committed).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.KANARY_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-results', 'dashboard');

/** A browser for this test, closed after it. */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/ensure-deps.sh (installs Debian's chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // as root (CI containers) Chromium's sandbox cannot start
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  t.after(() => browser.close());
  return browser;
}

/** Saves a screenshot (the full page unless told) as test-results/dashboard/NAME.png and returns its path. */
export async function screenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean } = {},
): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: opts.fullPage ?? true });
  return path;
}
