import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO } from './server.js';

/**
 * Debian's Chromium driven by playwright-core (no downloaded browser) for the
 * web UI tests: the built UI must exist (npm run build:web). Screenshots go
 * to artifacts/screenshots (git-ignored), for people to look at.
 */
export const WEB_INDEX = join(REPO, 'web', 'dist', 'index.html');
export const CHROMIUM = process.env.ONEEDGE_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(REPO, 'artifacts', 'screenshots');
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(WEB_INDEX)) {
    throw new Error(`${WEB_INDEX} is missing: build the web UI first (npm run build:web)`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A page with a 10 s default timeout whose uncaught errors land in `errors`. */
export async function newPage(ctx: BrowserContext, errors: string[]): Promise<Page> {
  const p = await ctx.newPage();
  p.setDefaultTimeout(10_000);
  p.on('pageerror', (e) => errors.push(e.message));
  return p;
}

export async function login(p: Page, url: string, username: string, password: string): Promise<void> {
  await p.goto(`${url}/`);
  await p.getByLabel('Username').fill(username);
  await p.locator('input[type=password]').fill(password);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByTestId('current-user').getByText(username).waitFor();
}

/** A link of the sidebar. */
export function nav(p: Page, name: string) {
  return p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

/** A screenshot without the transient toasts. */
export async function screenshot(p: Page, name: string): Promise<void> {
  const close = p.locator('.pf-v6-c-alert-group.pf-m-toast button').first();
  for (let i = 0; i < 10 && (await close.count()) > 0; i++) await close.click({ timeout: 2000 }).catch(() => {});
  await p.screenshot({ path: join(SHOTS, `${name}.png`) });
}

type Marked = Record<string, unknown>;

/** Marks the page's global scope: `assertNotReloaded` fails if the page was reloaded since. */
export async function markNotReloaded(p: Page): Promise<void> {
  await p.evaluate(() => {
    (globalThis as Marked).__notReloaded = true;
  });
}

export async function wasNotReloaded(p: Page): Promise<boolean> {
  return (await p.evaluate(() => (globalThis as Marked).__notReloaded)) === true;
}
