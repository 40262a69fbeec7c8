/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package driven by
 * playwright-core (never a browser that Playwright downloads). Without /usr/bin/chromium the
 * browser tests skip with a hint; with CLOUDP2P_REQUIRE_BROWSER=1 (set by .ci/run) they fail.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packagePath } from '../../../src/util/package-info.js';

export const CHROMIUM_PATH = process.env.CLOUDP2P_CHROMIUM ?? '/usr/bin/chromium';
const INSTALL_HINT = 'install it with `apt-get install -y chromium` (Debian)';

/** Where screenshots go (gitignored); the README's pictures are copied from here by hand. */
export const ARTIFACTS_DIR = packagePath('test-artifacts', 'e2e');

export interface BrowserAvailability {
  /** Run the browser tests. */
  run: boolean;
  /** Why they cannot run (null when they can). */
  problem: string | null;
}

/**
 * Whether the browser tests can run. When the browser is missing and required, `run` stays
 * true so that the tests start and fail on {@link launchBrowser}'s clear message.
 */
export function browserAvailability(): BrowserAvailability {
  if (existsSync(CHROMIUM_PATH)) return { run: true, problem: null };
  const problem = `no Chromium at ${CHROMIUM_PATH}: ${INSTALL_HINT}`;
  if (process.env.CLOUDP2P_REQUIRE_BROWSER === '1') return { run: true, problem };
  console.warn(`skipping the browser tests: ${problem}`);
  return { run: false, problem };
}

/**
 * Starts headless Chromium. Playwright gives every launch a fresh, empty profile directory;
 * the flags keep Chromium from calling home (this machine has no internet: such connections
 * would be refused many at a time, slowly).
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `CLOUDP2P_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM_PATH}: ${INSTALL_HINT}`,
    );
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Saves a full-page screenshot as test-artifacts/e2e/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects the page's console errors and uncaught exceptions, to fail on them. */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('console', (message) => {
    // A killed server's stream and its reconnects log network errors: expected here.
    if (
      message.type() === 'error' &&
      !/ERR_CONNECTION_REFUSED|net::ERR_|EventSource/.test(message.text())
    )
      errors.push(`console: ${message.text()}`);
  });
  return errors;
}
