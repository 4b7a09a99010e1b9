import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { LoopbackAgent, waitFor } from '../support/agents.js';
import { Api } from '../support/api.js';
import {
  launchChromium,
  login,
  markNotReloaded,
  nav,
  newPage,
  screenshot,
  wasNotReloaded,
} from '../support/browser.js';
import { TestServer } from '../support/server.js';

/**
 * The web UI's live pages in Chromium against the real daemon and a real
 * agent (loopback, in-memory runtime, short probe periods): monitoring graphs
 * that follow the agent's pushes, the VNC console through the front-end's
 * proxy (QEMU's own VNC server on the VM's console socket), image upload with
 * progress, security group rules, and network leases.
 */
const PERIODS = 'beacon=1,system=2,host=0.5,datastore=0.5,vm-state=0.5,vm-sync=2,vm-usage=0.5';
const QEMU = '/usr/bin/qemu-system-x86_64';

describe('web UI pages in Chromium (live data)', { timeout: 180_000 }, () => {
  let server: TestServer;
  let admin: Api;
  let agent: LoopbackAgent;
  let browser: Browser;
  let page: Page;
  let hostId: number;
  let vmId: number;
  let netId: number;
  let netTemplateId: number;
  const errors: string[] = [];
  const children: ChildProcess[] = [];
  const temps: string[] = [];

  const points = async (testId: string) =>
    Number(await page.getByTestId(testId).getAttribute('data-points', { timeout: 10_000 }));

  before(async () => {
    server = await new TestServer({
      args: ['--heartbeat', '1', '--agent-host', '127.0.0.1', '--monitor-flush-ms', '100'],
    }).start();
    admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    agent = new LoopbackAgent('mock', ['--probe-periods', PERIODS]);
    hostId = await agent.join(admin, server, 'edge-live');
    await waitFor(
      'host monitored',
      async () => (await admin.get(`/api/v1/hosts/${hostId}`)).body.state === 'MONITORED',
    );
    const tpl = await admin.post('/api/v1/templates', {
      template: 'NAME = console-vm\nMEMORY = 32\nCPU = 0.1\nGRAPHICS = [ TYPE = VNC ]',
    });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    const vm = await admin.post(`/api/v1/templates/${tpl.body.id}/instantiate`, { name: 'console-vm' });
    vmId = vm.body.items[0].id;
    await waitFor('VM running', async () => (await admin.get(`/api/v1/vms/${vmId}`)).body.lcm_state === 'RUNNING');
    const net = await admin.post('/api/v1/vnets', {
      name: 'live-net',
      template: 'VN_MAD = bridge\nBRIDGE = br-live\nAR = [ TYPE = IP4, IP = 10.1.0.10, SIZE = 50 ]',
    });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    netId = net.body.id;
    const nt = await admin.post('/api/v1/templates', {
      template: `NAME = leased\nMEMORY = 32\nCPU = 0.1\nNIC = [ NETWORK_ID = ${netId} ]`,
    });
    netTemplateId = nt.body.id;
    // On hold: the NIC's lease exists without a host to deploy to.
    const held = await admin.post(`/api/v1/templates/${netTemplateId}/instantiate`, { name: 'leased-1', hold: true });
    assert.equal(held.status, 201, JSON.stringify(held.body));

    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await newPage(ctx, errors);
    await login(page, server.url, 'oneadmin', server.adminPassword);
    await page.locator('[data-testid="event-status"][data-status="live"]').waitFor();
    await markNotReloaded(page);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const f of temps) rmSync(dirname(f), { recursive: true, force: true });
    await browser?.close();
    await agent?.dispose();
    await server?.dispose();
  });

  test("a VM's monitoring graphs draw its history and grow as the agent pushes, without reload", async () => {
    await nav(page, 'VMs').click();
    await page.locator(`tr[data-id="${vmId}"]`).getByRole('link', { name: 'console-vm' }).click();
    await page.getByRole('tab', { name: 'Monitoring', exact: true }).click();
    await page.getByTestId('monitoring-charts').waitFor();
    await page.getByTestId('chart-memory').locator('canvas').waitFor();
    const first = await points('chart-cpu');
    assert.ok(first >= 1, `history drawn (${first} samples)`);
    await waitFor('more samples drawn', async () => (await points('chart-cpu')) > first + 1, 15_000);
    await page
      .getByTestId('chart-memory-latest')
      .getByText(/Memory \d/)
      .waitFor();
    assert.equal(await wasNotReloaded(page), true);
    await screenshot(page, 'vm-monitoring');
  });

  test("a host's monitoring graphs show its usage and system datastore", async () => {
    await page.goto(`${server.url}/hosts/${hostId}`);
    await page.getByRole('tab', { name: 'Monitoring', exact: true }).click();
    await page.getByTestId('monitoring-charts').waitFor();
    for (const c of ['chart-cpu', 'chart-memory', 'chart-network', 'chart-datastore']) {
      await page.getByTestId(c).locator('canvas').waitFor();
    }
    const first = await points('chart-memory');
    await waitFor('host samples grow', async () => (await points('chart-memory')) > first, 15_000);
    await screenshot(page, 'host-monitoring');
    await markNotReloaded(page);
  });

  test('the VNC console tab completes the RFB handshake through the front-end proxy (noVNC)', async (t) => {
    if (!existsSync(QEMU)) return t.skip('qemu-system-x86 is not installed');
    // QEMU's VNC server (no guest) on the VM's console socket, where the agent looks for it.
    const dir = join(agent.stateDir, 'vms', String(vmId), 'workload');
    mkdirSync(dir, { recursive: true });
    const sock = join(dir, 'vnc.sock');
    const qemu = spawn(
      QEMU,
      [
        '-machine',
        'none',
        '-nodefaults',
        '-display',
        'none',
        '-vnc',
        `unix:${sock}`,
        '-monitor',
        'none',
        '-serial',
        'none',
      ],
      { stdio: 'ignore' },
    );
    children.push(qemu);
    try {
      await waitFor('VNC socket', async () => existsSync(sock), 10_000);
      await page.goto(`${server.url}/vms/${vmId}`);
      await markNotReloaded(page);
      await page.getByRole('tab', { name: 'Console', exact: true }).click();
      // noVNC reports "connect" after ServerInit: version, security, init all went through the proxy.
      await page.locator('[data-testid="vnc-status"][data-status="connected"]').waitFor({ timeout: 20_000 });
      await page.getByTestId('vnc-status').getByText('QEMU').waitFor();
      await page.locator('.oe-vnc-screen canvas').waitFor();
      await page.waitForTimeout(500);
      await screenshot(page, 'vm-console');
      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.locator('[data-testid="vnc-status"][data-status="disconnected"]').waitFor();
      // The token was single-use: reconnecting asks for a new one and works again.
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.locator('[data-testid="vnc-status"][data-status="connected"]').waitFor({ timeout: 20_000 });
    } finally {
      qemu.kill('SIGKILL');
    }
  });

  test('an image uploads with progress and arrives READY', async () => {
    const size = 6 * 1048576;
    await nav(page, 'Images').click();
    await page.getByRole('button', { name: 'Upload image' }).click();
    const dialog = page.getByRole('dialog');
    // Through the browser's file chooser, as a user picks a file.
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      dialog.getByRole('button', { name: 'Browse…' }).click(),
    ]);
    const file = join(mkdtempSync(join(tmpdir(), 'oneedge-upload-')), 'disk.raw');
    writeFileSync(file, Buffer.alloc(size, 7));
    temps.push(file);
    await chooser.setFiles(file, { timeout: 30_000 });
    await dialog.getByText('6.0 MB').waitFor();
    await dialog.getByLabel('Image name').fill('ui-upload');
    await dialog.getByLabel('Type').selectOption('DATABLOCK');
    // Slow the upload down so progress is visible between the first and the last byte.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 2 * 1048576,
    });
    const seen: number[] = [];
    try {
      await dialog.getByRole('button', { name: 'Upload', exact: true }).click();
      const bar = dialog.getByTestId('upload-progress');
      await waitFor(
        'partial progress',
        async () => {
          const sent = Number((await bar.getAttribute('data-sent', { timeout: 1000 }).catch(() => '0')) ?? 0);
          seen.push(sent);
          return sent > 0 && sent < size;
        },
        20_000,
      );
      await page.getByRole('dialog').screenshot({ path: join('artifacts', 'screenshots', 'image-upload.png') });
    } finally {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
    }
    await page.waitForURL(/\/images\/\d+$/, { timeout: 30_000 });
    await page.getByTestId('object-state').getByText('READY').waitFor();
    const id = Number(page.url().split('/').pop());
    const img = (await admin.get(`/api/v1/images/${id}`)).body;
    assert.equal(img.state, 'READY');
    assert.equal(img.name, 'ui-upload');
    assert.equal(img.size_bytes, size);
    assert.ok(
      seen.some((s) => s > 0 && s < size),
      `progress between 0 and ${size}: ${seen.join(',')}`,
    );
    assert.equal(await wasNotReloaded(page), true);
  });

  test('security group rules are edited, checked by the server and saved; removing asks first', async () => {
    const sg = await admin.post('/api/v1/secgroups', {
      template: 'NAME = web\nRULE = [ PROTOCOL = TCP, RULE_TYPE = inbound, RANGE = 22 ]',
    });
    assert.equal(sg.status, 201, JSON.stringify(sg.body));
    await nav(page, 'Security Groups').click();
    await page.locator('tr[data-id]').getByRole('link', { name: 'web', exact: true }).click();
    await page.getByRole('tab', { name: 'Rules' }).click();
    await page.getByLabel('Rule 1 RANGE').fill('22,443');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByLabel('Rule 2 protocol').selectOption('UDP');
    // A bad port range is refused by the server with the attribute, and nothing is saved.
    await page.getByLabel('Rule 2 RANGE').fill('53:x');
    await page.getByRole('button', { name: 'Save rules' }).click();
    const err = page.locator('.oe-error[data-code="E_TEMPLATE_INVALID"]');
    await err.getByText('RANGE').first().waitFor();
    assert.equal((await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body.rules[0].ports.length, 1);
    await page.getByLabel('Rule 2 RANGE').fill('53');
    await page.getByLabel('Rule 2 IP').fill('10.8.0.0/24');
    await page.getByRole('button', { name: 'Save rules' }).click();
    await waitFor(
      'rules saved',
      async () => (await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body.rules.length === 2,
    );
    const saved = (await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body;
    assert.deepEqual(saved.rules[0].ports, ['22', '443']);
    assert.deepEqual(
      { protocol: saved.rules[1].protocol, ports: saved.rules[1].ports, addresses: saved.rules[1].addresses },
      { protocol: 'UDP', ports: ['53'], addresses: ['10.8.0.0/24'] },
    );
    await screenshot(page, 'secgroup-rules');
    // Removing a rule: the save asks for confirmation (Cancel first, then confirm).
    await page.getByRole('button', { name: 'Remove rule 1' }).click();
    await page.getByRole('button', { name: 'Save rules' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Remove 1 rule(s) from web?').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body.rules.length, 2);
    await page.getByRole('button', { name: 'Save rules' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save rules' }).click();
    await waitFor(
      'rule removed',
      async () => (await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body.rules.length === 1,
      10_000,
    ).catch(async (err) => {
      await screenshot(page, 'debug-secgroup');
      throw err;
    });
    assert.equal((await admin.get(`/api/v1/secgroups/${sg.body.id}`)).body.rules[0].protocol, 'UDP');
  });

  test('a virtual network shows its address ranges and leases, and a new lease appears live', async () => {
    await nav(page, 'Virtual Networks').click();
    await page.locator('tr[data-id]').getByRole('link', { name: 'live-net' }).click();
    await page.getByRole('tab', { name: 'Addresses and leases' }).click();
    await page.getByLabel('Address ranges').getByText('10.1.0.10').waitFor();
    const leases = page.getByLabel('Leases', { exact: true });
    await leases.locator('[data-lease-ip="10.1.0.10"]').getByText('leased-1').waitFor();
    const more = await admin.post(`/api/v1/templates/${netTemplateId}/instantiate`, { name: 'leased-2', hold: true });
    assert.equal(more.status, 201, JSON.stringify(more.body));
    await leases.locator('[data-lease-ip="10.1.0.11"]').getByText('leased-2').waitFor();
    await page.getByLabel('Address ranges').locator('[data-ar="0"]').getByText('2', { exact: true }).waitFor();
    await screenshot(page, 'vnet-leases');
    assert.equal(await wasNotReloaded(page), true);
  });

  test('keyboard: skip link, Enter on links and tabs, a destructive dialog that starts on Cancel', async () => {
    await page.goto(`${server.url}/secgroups`);
    await page.locator('tr[data-id]').first().waitFor();
    await page.keyboard.press('Tab');
    const focused = () =>
      page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } }).document
            .activeElement?.textContent ?? '',
      );
    assert.equal(await focused(), 'Skip to content');
    // Open a group and its Rules tab with Enter, then start deleting it from the keyboard.
    await page.locator('tr[data-id]').getByRole('link', { name: 'web', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('tab', { name: 'Rules' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Add rule' }).waitFor();
    await page.getByRole('tab', { name: 'Info' }).click();
    await page.getByRole('button', { name: 'Delete' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    // The dialog's focus trap moves focus once it is mounted, a frame or two after it shows.
    const start = Date.now();
    while ((await focused()) !== 'Cancel' && Date.now() - start < 5_000) await page.waitForTimeout(50);
    assert.equal(await focused(), 'Cancel', 'a destructive dialog starts on Cancel');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(
      (await admin.get('/api/v1/secgroups')).body.items.some((g: { name: string }) => g.name === 'web'),
      true,
    );
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  });
});
