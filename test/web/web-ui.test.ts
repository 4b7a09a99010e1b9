import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LoopbackAgent, waitFor } from '../support/agents.js';
import { Api } from '../support/api.js';
import {
  launchChromium,
  login as loginAt,
  markNotReloaded,
  nav,
  newPage as openPage,
  screenshot,
  wasNotReloaded,
} from '../support/browser.js';
import { TestServer } from '../support/server.js';

/**
 * The web UI in Debian's Chromium (playwright-core, no downloaded browser)
 * against the real daemon serving web/dist. State changes are made through
 * the API and must reach the open page through the event stream: the page is
 * never reloaded (a marker set in the page's global scope must survive).
 */
const TEMPLATE = `NAME = ui-test
CPU = 0.5
VCPU = 2
MEMORY = 128
DISK = [ TYPE = fs, SIZE = 1024 ]
NIC = [ NETWORK_ID = @NET@, MODEL = virtio ]
CONTEXT = [ GREETING = "$GREETING", DISK_GB = "$DISK_GB", FLAVOUR = "$FLAVOUR", SERVICES = "$SERVICES", DEBUG = "$DEBUG", REGION = "$REGION" ]
USER_INPUTS = [
  GREETING = "M|text|Greeting",
  SECRET = "O|password|Root password",
  SCRIPT = "O|text64|Start script",
  CORES = "M|number|Cores||2",
  RATIO = "O|number-float|Ratio||0.5",
  DISK_GB = "M|range|Disk size (GB)|1..100|10",
  WEIGHT = "O|range-float|Weight|0.0..1.0|0.5",
  FLAVOUR = "M|list|Flavour|small,medium,large|small",
  SERVICES = "O|list-multiple|Services|ssh,http,dns",
  DEBUG = "O|boolean|Debug mode||NO",
  REGION = "M|fixed|Region||edge-eu" ]
`;

describe('web UI in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Api;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let hostId: number;
  let templateId: number;
  let vmId: number;
  const pageErrors: string[] = [];

  const shot = (name: string) => screenshot(page, name);
  const act = async (id: number, action: string, body: Record<string, unknown> = {}) => {
    const res = await admin.post(`/api/v1/vms/${id}/actions/${action}`, body);
    assert.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`);
  };
  const notReloaded = async (p: Page) => assert.equal(await wasNotReloaded(p), true);

  const login = (p: Page, username: string, password: string) => loginAt(p, server.url, username, password);
  const newPage = (ctx: BrowserContext) => openPage(ctx, pageErrors);

  before(async () => {
    server = await new TestServer().start();
    admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    hostId = (await admin.post('/api/v1/hosts', { name: 'edge-1' })).body.id;
    const net = await admin.post('/api/v1/vnets', {
      name: 'edge-net',
      template: 'VN_MAD = bridge\nBRIDGE = br0\nAR = [ TYPE = IP4, IP = 10.0.0.10, SIZE = 100 ]',
    });
    const tpl = await admin.post('/api/v1/templates', { template: TEMPLATE.replace('@NET@', String(net.body.id)) });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    templateId = tpl.body.id;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await newPage(context);
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('logs in and follows the event stream', async () => {
    await login(page, 'oneadmin', server.adminPassword);
    await page.locator('[data-testid="event-status"][data-status="live"]').waitFor();
    await page.getByTestId('hosts-by-state').locator('[data-state="INIT"] strong').getByText('1').waitFor();
    await markNotReloaded(page);
  });

  test('instantiates a template through the form generated from its USER_INPUTS', async () => {
    await nav(page, 'VMs').click();
    await page.getByRole('button', { name: 'Create VM' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Template').selectOption(String(templateId));
    // One control per USER_INPUTS type.
    const types = await dialog.locator('[data-type]').evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
    assert.deepEqual(types, [
      'text',
      'password',
      'text64',
      'number',
      'number-float',
      'range',
      'range-float',
      'list',
      'list-multiple',
      'boolean',
      'fixed',
    ]);
    await dialog.getByLabel('VM name').fill('ui-vm');
    // A mandatory text input left empty is refused before anything is sent.
    await dialog.getByRole('button', { name: 'Instantiate' }).click();
    await dialog.getByText('required').waitFor();
    await dialog.getByLabel('Greeting').fill('hello from the UI');
    await dialog.getByLabel('Root password').fill('s3cret');
    await dialog.getByLabel('Start script').fill('echo hi');
    await dialog.getByLabel('Cores').fill('4');
    await dialog.getByLabel('Disk size (GB) value').fill('42');
    await dialog.getByLabel('Disk size (GB) value').press('Enter');
    await dialog.getByLabel('Flavour').selectOption('large');
    await dialog.getByLabel('ssh').check();
    await dialog.getByLabel('dns').check();
    // The switch is operated from the keyboard, as a keyboard user would.
    await dialog.getByLabel('Debug mode').focus();
    await page.keyboard.press('Space');
    await dialog.getByRole('button', { name: 'Instantiate' }).click();
    await dialog.waitFor({ state: 'detached' });

    const row = page.locator('tr[data-id]').filter({ hasText: 'ui-vm' });
    await row.waitFor();
    vmId = Number(await row.getAttribute('data-id'));
    await row.locator('[data-state="PENDING"]').waitFor();
    const vm = (await admin.get(`/api/v1/vms/${vmId}`)).body;
    const ctx = vm.template.CONTEXT;
    assert.deepEqual(
      [ctx.GREETING, ctx.DISK_GB, ctx.FLAVOUR, ctx.SERVICES, ctx.DEBUG, ctx.REGION],
      ['hello from the UI', '42', 'large', 'ssh,dns', 'YES', 'edge-eu'],
    );
  });

  test('a state change made through the API reaches the open list without a reload', async () => {
    const row = page.locator(`tr[data-id="${vmId}"]`);
    await act(vmId, 'deploy', { host_id: hostId });
    await row.locator('[data-state="ACTIVE/PROLOG"]').waitFor();
    await act(vmId, 'recover-success');
    await act(vmId, 'recover-success');
    await row.locator('[data-state="ACTIVE/RUNNING"]').waitFor();
    await row.getByText('edge-1').waitFor();
    // A few more VMs (one on hold) for the list and the dashboard's chart.
    const more = await admin.post(`/api/v1/templates/${templateId}/instantiate`, {
      name: 'batch-%i',
      multiple: 4,
      user_inputs: { GREETING: 'batch' },
    });
    assert.equal(more.status, 201, JSON.stringify(more.body));
    await act(more.body.items[0].id, 'hold');
    await page.getByTestId('row-count').getByText('5 of 5').waitFor();
    await notReloaded(page);
    await shot('vm-list');
    await nav(page, 'Dashboard').click();
    await page.getByTestId('vm-total').getByText('5 VMs').waitFor();
    await page.getByTestId('capacity').getByText('128M allocated').waitFor();
    await shot('dashboard');
    await nav(page, 'VMs').click();
  });

  test('the VM detail page shows every tab', async () => {
    await page.locator(`tr[data-id="${vmId}"]`).getByRole('link', { name: 'ui-vm' }).click();
    await page.waitForURL(`**/vms/${vmId}`);
    await page.getByTestId('vm-state').locator('[data-state="ACTIVE/RUNNING"]').waitFor();
    const open = async (name: string, expect: string) => {
      await page.getByRole('tab', { name, exact: true }).click();
      await page.getByRole('tabpanel').getByText(expect).first().waitFor();
    };
    await open('Capacity', '128M');
    await open('Storage', 'fs');
    await open('Network', 'virtio');
    await open('Monitoring', 'No monitoring data yet');
    // Its host has no agent connected: the log tab says so, with the API's code.
    await open('Log', 'The log could not be read');
    await page.getByRole('tabpanel').getByText('E_HOST_UNREACHABLE').first().waitFor();
    // No GRAPHICS: the console tab shows the workload's output instead of a VNC screen.
    await open('Console', 'has no VNC console');
    await open('Placement', 'deploy');
    // PatternFly tables have the grid role.
    await page.getByLabel('Placement history').getByText('edge-1').waitFor();
    await page.getByRole('tab', { name: 'Template', exact: true }).click();
    const text = await page.getByLabel('VM template', { exact: true }).inputValue();
    assert.match(text, /GREETING = "hello from the UI"/);
    await open('Actions', 'power off');
    await page.getByRole('tabpanel').getByRole('button', { name: 'Poweroff', exact: true }).waitFor();
    await open('Info', 'Pending operation');
    await shot('vm-detail');
    await notReloaded(page);
  });

  test('terminates from the list after confirmation; the VM leaves the active list', async () => {
    await nav(page, 'VMs').click();
    const row = page.locator(`tr[data-id="${vmId}"]`);
    await row.getByLabel(`Select row ${vmId}`).check();
    await page.locator('button[data-action="terminate"]').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Terminate 1 VM(s)?').waitFor();
    await dialog.getByRole('button', { name: 'Terminate' }).click();
    await dialog.waitFor({ state: 'detached' });
    // Without an agent, an administrator completes the ACPI shutdown and the epilog.
    await row.locator('[data-state="ACTIVE/SHUTDOWN"]').waitFor();
    await act(vmId, 'recover-success');
    await act(vmId, 'recover-success');
    await row.waitFor({ state: 'detached' });
    await page.getByTestId('row-count').getByText('4 of 4').waitFor();
    assert.equal((await admin.get(`/api/v1/vms/${vmId}`)).body.state, 'DONE');
    await notReloaded(page);
  });

  test('the dashboard follows; host detail and NUMA tab', async () => {
    await nav(page, 'Dashboard').click();
    await page.getByTestId('vm-total').getByText('4 VMs').waitFor();
    await nav(page, 'Hosts').click();
    await page.locator('tr[data-id]').getByRole('link', { name: 'edge-1' }).click();
    await page.getByRole('tab', { name: 'VMs' }).click();
    await page.getByRole('tabpanel').getByText('No VMs on this host.').waitFor();
    await page.getByRole('tab', { name: 'Info' }).click();
    await shot('host-detail');
    await page.getByRole('tab', { name: 'NUMA' }).click();
    await page.getByText('NUMA topology not reported').waitFor();
  });

  test("a host's NUMA tab shows the topology its agent reports", async () => {
    // Keep waiting VMs off the new host: this test is about the host, not placement.
    const pending = (await admin.get('/api/v1/vms?limit=0&state=PENDING')).body.items as { id: number }[];
    for (const v of pending) await admin.post(`/api/v1/vms/${v.id}/actions/hold`);
    const agent = new LoopbackAgent();
    const numaHost = await agent.join(admin, server, 'edge-numa');
    try {
      const reported = await waitFor(
        'NUMA facts',
        async () => (await admin.get(`/api/v1/hosts/${numaHost}`)).body.facts?.numa,
      );
      await page.goto(`${server.url}/hosts/${numaHost}`);
      await page.getByRole('tab', { name: 'NUMA' }).click();
      if (reported.length === 0) {
        await page.getByText('NUMA topology not reported').waitFor();
      } else {
        const first = reported[0] as { id: number; cores: { id: number; cpus: number[] }[] };
        await page.getByRole('heading', { name: `Node ${first.id}` }).waitFor();
        const cores = page.getByRole('list', { name: `Cores of node ${first.id}` }).getByRole('listitem');
        assert.equal(await cores.count(), first.cores.length);
        await page.getByLabel(`CPU ${first.cores[0]?.cpus[0]} free`).waitFor();
      }
      await shot('host-numa');
    } finally {
      await agent.dispose();
      for (const v of pending) await admin.post(`/api/v1/vms/${v.id}/actions/release`);
    }
  });

  test('a template with a syntax error is marked at its line and not saved', async () => {
    const before = (await admin.get('/api/v1/templates')).body.total;
    await nav(page, 'VM Templates').click();
    await page.getByRole('button', { name: 'Create VM template' }).click();
    await page.waitForURL('**/templates/new');
    const editor = page.getByLabel('Template text');
    await editor.fill('NAME = broken\nMEMORY = 128\nDISK = [ TYPE = fs SIZE = 10 ]\nVCPU = 2\n');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const error = page.getByTestId('editor-error');
    await error.getByText('E_TEMPLATE_SYNTAX').waitFor();
    await error.getByText('line 3, column 20', { exact: false }).waitFor();
    const box = page.locator('.oe-editor').filter({ has: editor });
    assert.equal(await box.getAttribute('data-error-line'), '3');
    assert.equal(await box.getAttribute('data-error-column'), '20');
    assert.deepEqual(await box.locator('.oe-gutter-error').allInnerTexts(), ['3']);
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await shot('template-error');
    assert.ok(page.url().endsWith('/templates/new'));
    assert.equal((await admin.get('/api/v1/templates')).body.total, before, 'nothing was saved');
  });

  test('a user sees only what permissions allow, and a chmod shows up live', async () => {
    for (const name of ['alice', 'bob']) {
      const res = await admin.post('/api/v1/users', { name, password: `${name}-password`, group_id: 1 });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const alice = await Api.login(server.url, 'alice', 'alice-password');
    const mine = await alice.post('/api/v1/templates', { template: 'NAME = alice-private\nMEMORY = 64' });
    assert.equal(mine.status, 201);

    const bobCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const bob = await newPage(bobCtx);
    await login(bob, 'bob', 'bob-password');
    assert.equal(await bob.getByTestId('current-user').getByText('admin').count(), 0);
    await nav(bob, 'VM Templates').click();
    await bob.getByTestId('row-count').getByText('0 of 0').waitFor();
    await nav(bob, 'Hosts').click();
    await bob.getByTestId('row-count').getByText('0 of 0').waitFor();
    assert.equal(await bob.getByRole('button', { name: 'Create host' }).count(), 0, 'no create for non-admins');
    await bob.goto(`${server.url}/templates/${mine.body.id}`);
    await bob.locator('.oe-error[data-code="E_NOT_FOUND"]').waitFor();

    // Alice shares her template through the permissions dialog; Bob's open list follows.
    await nav(bob, 'VM Templates').click();
    await bob.getByTestId('row-count').getByText('0 of 0').waitFor();
    const aliceCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const alicePage = await newPage(aliceCtx);
    await login(alicePage, 'alice', 'alice-password');
    await nav(alicePage, 'VM Templates').click();
    await alicePage.getByRole('link', { name: 'alice-private' }).click();
    await alicePage.getByRole('button', { name: 'Permissions' }).click();
    const dialog = alicePage.getByRole('dialog');
    await dialog.getByLabel('Other Use').check();
    assert.equal(await dialog.getByTestId('perm-octal').textContent(), '604');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await bob.locator('tr[data-id]').getByText('alice-private').waitFor();
    await bob.getByTestId('row-count').getByText('1 of 1').waitFor();
    await bobCtx.close();
    await aliceCtx.close();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  });
});
