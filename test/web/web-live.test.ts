import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TestAgent, waitFor } from '../support/agents.js';
import { Api } from '../support/api.js';
import { launchChromium, login, markNotReloaded, newPage, screenshot, wasNotReloaded } from '../support/browser.js';
import { NetnsLab, netnsSkipReason } from '../support/netns-hosts.js';
import { TestServer } from '../support/server.js';

const skip = netnsSkipReason();

/** VM usage every 0.5 s; host usage and facts almost never, so only VM monitoring events can move VM graphs. */
const PERIODS = 'beacon=1,system=600,host=600,datastore=600,vm-state=1,vm-sync=600,vm-usage=0.5';

const TICKER = String.raw`NAME = ticker
MEMORY = 32
CPU = 0.1
COMMAND = "yes | awk '{ print \"tick\", NR; fflush(); system(\"sleep 0.2\") }'"
`;

const ticks = (text: string): number[] => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));

function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
      n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/**
 * The web UI's live container console and VM graphs in Chromium, as the VM's
 * owner (not an admin), against a crun container on a namespace host: the
 * console tab shows the workload's lines as it prints them (one streamed
 * response, no polling), and the VM's monitoring graphs gain points from VM
 * monitoring events while the host's own monitoring is nearly silent.
 */
describe('web UI live console and VM graphs (crun, Chromium)', { skip, timeout: 240_000 }, () => {
  let server: TestServer;
  let admin: Api;
  let lab: NetnsLab;
  let agent: TestAgent;
  let browser: Browser;
  let page: Page;
  let vmId: number;
  const errors: string[] = [];

  before(async () => {
    server = await new TestServer({
      args: ['--heartbeat', '1', '--monitor-flush-ms', '100'],
      env: { ONEEDGE_STOP_TIMEOUT: '2' },
    }).start();
    admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    const u = await admin.post('/api/v1/users', { name: 'alice', password: 'alice-password', group_id: 1 });
    assert.equal(u.status, 201, JSON.stringify(u.body));
    const alice = await Api.login(server.url, 'alice', 'alice-password');
    lab = await NetnsLab.create(1);
    agent = new TestAgent(lab, lab.hosts[0] as (typeof lab.hosts)[number], 'crun', ['--probe-periods', PERIODS]);
    await agent.join(admin, server);
    await waitFor('host connected with crun', async () => {
      const h = (await admin.get(`/api/v1/hosts/${agent.hostId}`)).body;
      return h.connected && h.facts?.runtimes.includes('crun');
    });
    const tpl = await alice.post('/api/v1/templates', { template: TICKER });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    const vm = await alice.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {});
    vmId = vm.body.items[0].id;
    await waitFor(
      'VM running',
      async () => (await admin.get(`/api/v1/vms/${vmId}`)).body.lcm_state === 'RUNNING',
      60_000,
    );
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await newPage(ctx, errors);
    await login(page, server.url, 'alice', 'alice-password');
    await page.locator('[data-testid="event-status"][data-status="live"]').waitFor();
  });

  after(async () => {
    await browser?.close();
    try {
      await admin.del(`/api/v1/vms/${vmId}`);
      await waitFor('VM done', async () => (await admin.get('/api/v1/vms?limit=0')).body.total === 0, 20_000);
    } catch {
      // the lab's disposal removes what is left
    }
    await lab?.dispose();
    await server?.dispose();
  });

  test("the console tab shows the container's lines as it prints them, and leaving it ends the follow", async () => {
    const agentPid = agent.child?.pid as number;
    const baseline = inotifyWatches(agentPid);
    await page.goto(`${server.url}/vms/${vmId}`);
    await markNotReloaded(page);
    await page.getByRole('tab', { name: 'Console', exact: true }).click();
    await page.locator('[data-testid="log-follow-status"][data-status="following"]').waitFor();
    const output = page.getByRole('log', { name: 'Console output' });
    const newest = async () => Math.max(0, ...ticks((await output.textContent()) ?? ''));
    const first = await waitFor('output shown', async () => (await newest()) || undefined, 10_000);
    await waitFor('new lines appear live', async () => (await newest()) >= first + 5, 10_000);
    assert.equal(await wasNotReloaded(page), true);
    assert.equal(inotifyWatches(agentPid), baseline + 1, 'the agent follows the log for this viewer');
    await screenshot(page, 'vm-console-log');
    await page.getByRole('tab', { name: 'Info', exact: true }).click();
    await waitFor('the agent stops following', async () => inotifyWatches(agentPid) === baseline, 10_000);
    assert.deepEqual(errors, []);
  });

  test("the VM's graphs gain points from VM monitoring events, without reload", async () => {
    const host = (await admin.get(`/api/v1/hosts/${agent.hostId}`)).body;
    await page.goto(`${server.url}/vms/${vmId}`);
    await markNotReloaded(page);
    await page.getByRole('tab', { name: 'Monitoring', exact: true }).click();
    await page.getByTestId('chart-cpu').locator('canvas').waitFor();
    const points = async () => Number(await page.getByTestId('chart-cpu').getAttribute('data-points'));
    const first = await points();
    await waitFor('more samples drawn', async () => (await points()) >= first + 3, 15_000);
    assert.equal(await wasNotReloaded(page), true);
    const later = (await admin.get(`/api/v1/hosts/${agent.hostId}`)).body;
    assert.equal(later.revision, host.revision, 'the host did not change meanwhile: VM events moved the graph');
    await screenshot(page, 'vm-monitoring-live');
    assert.deepEqual(errors, []);
  });
});
