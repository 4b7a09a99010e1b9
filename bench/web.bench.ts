/**
 * Web UI benchmark (issue #9), in headless Debian Chromium through
 * playwright-core against the real daemon serving web/dist:
 * - first meaningful paint of the dashboard (first paint, and the moment the
 *   VM count is on screen), with an empty cloud and with 20,000 VMs, and the
 *   latency of GET /summary that feeds it;
 * - the VM list with 20,000 VMs: time until rows and the count are shown,
 *   frame times while scrolling (wheel-sized and page-sized steps), a jump to
 *   the last row, and filtering;
 * - a burst of 1,000 live state changes (hold) until the open list shows them.
 * Prints figures only. Needs `npm run build:web` first.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type Page } from 'playwright-core';
import { Api } from '../test/support/api.js';
import { REPO, TestServer } from '../test/support/server.js';

const VMS = Number(process.env.BENCH_VMS ?? 20_000);
const BATCH = 1000;
const BURST = Math.min(1000, VMS);
const CHROMIUM = process.env.ONEEDGE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!existsSync(join(REPO, 'web', 'dist', 'index.html'))) {
  console.error('web/dist is missing: run `npm run build:web` first');
  process.exit(1);
}

const ms = (n: number) => `${n.toFixed(0)} ms`;

/** The few page globals the measurements use (the root tsconfig has no DOM lib; these run in the page). */
interface PageEl {
  scrollTop: number;
  readonly clientHeight: number;
  readonly scrollHeight: number;
  querySelectorAll(selector: string): ArrayLike<PageEl>;
  getBoundingClientRect(): { bottom: number };
}
interface PageGlobals {
  document: { querySelector(selector: string): PageEl };
  requestAnimationFrame(cb: (t: number) => void): number;
}

/** Time from navigation to the dashboard showing `total` VMs, plus the browser's own first contentful paint. */
async function dashboard(page: Page, url: string, total: number): Promise<{ fcp: number; meaningful: number }> {
  const t0 = performance.now();
  await page.goto(`${url}/`);
  await page
    .getByTestId('vm-total')
    .getByText(`${total} VM${total === 1 ? '' : 's'}`)
    .waitFor({ timeout: 60_000 });
  const meaningful = performance.now() - t0;
  const fcp = await page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
  );
  return { fcp, meaningful };
}

/**
 * Scrolls the virtual table by `step` pixels (or one screen) per animation
 * frame for `count` frames and returns the frame times: what a user feels
 * while scrolling with a wheel, or paging through the list.
 */
async function scrollFrames(
  page: Page,
  step: number | 'screen',
  count: number,
): Promise<{ frames: number[]; rowsInDom: number; px: number }> {
  return page.evaluate(
    async ({ step, count }) => {
      const g = globalThis as unknown as PageGlobals;
      const el = g.document.querySelector('.oe-vtable-scroll');
      const frame = () => new Promise<number>((r) => g.requestAnimationFrame(r));
      el.scrollTop = 0;
      await frame();
      const frames: number[] = [];
      let rowsInDom = 0;
      let last = await frame();
      for (let i = 0; i < count; i++) {
        el.scrollTop += step === 'screen' ? el.clientHeight : step;
        const now = await frame();
        frames.push(now - last);
        last = now;
        rowsInDom = Math.max(rowsInDom, el.querySelectorAll('tbody tr[data-id]').length);
      }
      return { frames, rowsInDom, px: el.scrollTop };
    },
    { step, count },
  );
}

/** Jumps to the end of the list and waits until its last row is painted. */
async function jumpToEnd(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals;
    const el = g.document.querySelector('.oe-vtable-scroll');
    const t0 = performance.now();
    el.scrollTop = el.scrollHeight;
    for (;;) {
      await new Promise((r) => g.requestAnimationFrame(r));
      const rows = el.querySelectorAll('tbody tr[data-id]');
      const lastRow = rows[rows.length - 1];
      if (lastRow && lastRow.getBoundingClientRect().bottom <= el.getBoundingClientRect().bottom + 1) break;
    }
    return performance.now() - t0;
  });
}

/** Waits until the event stream has been silent for `silenceMs` (at most 10 minutes); returns how long it took. */
async function quiet(url: string, token: string, silenceMs: number): Promise<number> {
  const t0 = performance.now();
  const abort = new AbortController();
  const res = await fetch(`${url}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no event stream');
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<void>((resolve) => {
    const check = () => {
      if (performance.now() - last >= silenceMs || performance.now() - t0 > 600_000) return resolve();
      timer = setTimeout(check, 250);
    };
    check();
  });
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      // Heartbeat comments (": ...") do not count as activity.
      if (value && /\ndata:|^data:/.test(new TextDecoder().decode(value))) last = performance.now();
    }
  })();
  await silent;
  clearTimeout(timer);
  abort.abort();
  await pump;
  return performance.now() - t0;
}

function stats(xs: number[]): { mean: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { mean, p95: s[Math.floor(s.length * 0.95)] ?? 0, max: s[s.length - 1] ?? 0 };
}

const server = await new TestServer({ env: { ONEEDGE_LOG_LEVEL: 'warn' } }).start();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
try {
  const api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  await page.goto(`${server.url}/`);
  await page.getByLabel('Username').fill('oneadmin');
  await page.locator('input[type=password]').fill(server.adminPassword);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('vm-total').waitFor();

  const empty = await dashboard(page, server.url, 0);
  console.log(
    `dashboard, empty cloud: first contentful paint ${ms(empty.fcp)}, VM count on screen ${ms(empty.meaningful)}`,
  );

  const tpl = await api.post('/api/v1/templates', { template: 'NAME = bench\nMEMORY = 128\nCPU = 0.5\n' });
  for (let made = 0; made < VMS; made += BATCH) {
    const res = await api.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {
      multiple: Math.min(BATCH, VMS - made),
    });
    if (res.status !== 201) throw new Error(`instantiate failed: ${JSON.stringify(res.body)}`);
  }

  // The scheduler's first pass writes a scheduler message into every new VM; measure the UI, not that burst.
  console.log(`seeded; quiet after ${ms(await quiet(server.url, api.token ?? '', 3000))}`);

  const full = await dashboard(page, server.url, VMS);
  console.log(
    `dashboard, ${VMS} VMs: first contentful paint ${ms(full.fcp)}, VM count and chart on screen ${ms(full.meaningful)}`,
  );

  // The dashboard's numbers come from GET /summary (counted by the database).
  const summaryMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const s0 = performance.now();
    const res = await api.get('/api/v1/summary');
    summaryMs.push(performance.now() - s0);
    if (res.status !== 200 || res.body.vms.total !== VMS) throw new Error(`summary: ${JSON.stringify(res.body)}`);
  }
  // What the dashboard did before /summary: download every VM to count them.
  const l0 = performance.now();
  const all = await fetch(`${server.url}/api/v1/vms?limit=0`, { headers: { authorization: `Bearer ${api.token}` } });
  const bytes = (await all.arrayBuffer()).byteLength;
  console.log(
    `(for comparison: GET /vms?limit=0, the whole list, ${(bytes / 1048576).toFixed(1)} MB in ${ms(performance.now() - l0)})`,
  );
  const sorted = [...summaryMs].sort((a, b) => a - b);
  console.log(`GET /summary with ${VMS} VMs: median ${ms(sorted[5] ?? 0)}, max ${ms(sorted[9] ?? 0)} (10 calls)`);

  const t0 = performance.now();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'VMs', exact: true }).click();
  await page.locator('tr[data-id]').first().waitFor({ timeout: 60_000 });
  await page.getByTestId('row-count').getByText(`${VMS} of ${VMS}`).waitFor({ timeout: 60_000 });
  const listMs = performance.now() - t0;
  console.log(
    `VM list, ${VMS} VMs: rows on screen ${ms(listMs)} (from the click in the sidebar; the dashboard no longer loads the pool)`,
  );

  const cold = performance.now();
  await page.goto(`${server.url}/vms`);
  await page.getByTestId('row-count').getByText(`${VMS} of ${VMS}`).waitFor({ timeout: 60_000 });
  console.log(`VM list, ${VMS} VMs, page load: rows on screen ${ms(performance.now() - cold)}`);

  for (const [label, step] of [
    ['wheel (120 px per frame)', 120],
    ['page (one screen per frame)', 'screen'],
  ] as const) {
    const r = await scrollFrames(page, step, 300);
    const f = stats(r.frames);
    console.log(
      `scroll ${VMS} rows, ${label}, 300 frames: frame mean ${f.mean.toFixed(1)} ms, p95 ${f.p95.toFixed(1)} ms, ` +
        `max ${f.max.toFixed(1)} ms; ${r.rowsInDom} rows in the DOM at most`,
    );
  }
  console.log(`jump from the top to row ${VMS} and paint it: ${ms(await jumpToEnd(page))}`);
  const idle = stats((await scrollFrames(page, 0, 60)).frames);
  console.log(`(idle frame on this machine: mean ${idle.mean.toFixed(1)} ms)`);

  const filterT0 = performance.now();
  await page.getByLabel('Filter VMs').fill('bench-19999');
  await page.getByTestId('row-count').getByText(`1 of ${VMS}`).waitFor();
  console.log(`filter ${VMS} rows by name: ${ms(performance.now() - filterT0)}`);
  await page.getByLabel('Filter VMs').fill('');

  // A burst of live changes: BURST VMs put on hold through the API, watched in the open list.
  const ids = (await api.get(`/api/v1/vms?limit=${BURST}`)).body.items.map((v: { id: number }) => v.id) as number[];
  await page.getByLabel('State', { exact: true }).selectOption('HOLD');
  const burst0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < ids.length; i += 8) await api.post(`/api/v1/vms/${ids[i]}/actions/hold`);
    }),
  );
  const apiDone = performance.now() - burst0;
  await page.getByTestId('row-count').getByText(`${BURST} of ${VMS}`).waitFor({ timeout: 60_000 });
  console.log(
    `${BURST} VMs put on hold through the API (${ms(apiDone)}): all shown in the open list after ${ms(performance.now() - burst0)}`,
  );
} finally {
  await browser.close();
  await server.dispose();
}
