import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { OvsDaemons } from './ovs-daemons.js';
import { OvsDriver } from './ovs-driver.js';
import type { HostNetwork } from './types.js';

const run = promisify(execFile);
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('OVS driver tests need root in CI');
const signal = () => AbortSignal.timeout(20_000);

/** Two networks sharing one OVS bridge on one namespace host (the multi-network cases the conformance suite does not cover). */
describe('ovswitch: networks sharing a bridge', {
  skip: root ? false : 'needs root to create network namespaces',
}, () => {
  const ns = `oeovt${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'oe-ovst-'));
  const daemons = new OvsDaemons({ mode: 'own', runDir: join(dir, 'ovs'), netns: ns });
  const driver = new OvsDriver(daemons, { netns: ns });
  const a: HostNetwork = {
    networkId: 1,
    bridge: 'oeovs0',
    vlanId: 10,
    phydev: 'up0',
    vlanTagged: '100-101',
    mtu: 1400,
  };
  const b: HostNetwork = { networkId: 2, bridge: 'oeovs0', vlanId: 20, phydev: 'up0' };
  const ipn = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  const get = async (...args: string[]) => (await daemons.vsctl(['get', ...args], signal())).trim();

  before(async () => {
    await run('ip', ['netns', 'add', ns]);
    await ipn('link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p');
    for (const p of ['pa', 'pb', 'pc']) await ipn('link', 'add', p, 'type', 'veth', 'peer', 'name', `${p}x`);
  });
  after(async () => {
    await daemons.stop(signal()).catch(() => undefined);
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the trunk carries the VLANs of the networks on the host; a trunk NIC carries its tagged VLANs', async () => {
    await driver.ensure(a, signal());
    await driver.attach(a, 'pa', signal());
    assert.equal(await get('Port', 'up0', 'trunks'), '[10, 100, 101]');
    await driver.ensure(b, signal());
    await driver.attach(b, 'pb', signal());
    await driver.attach(b, 'pc', signal());
    assert.equal(await get('Port', 'up0', 'trunks'), '[10, 20, 100, 101]');
    assert.equal(await get('Port', 'pa', 'tag'), '10');
    assert.equal(await get('Port', 'pa', 'trunks'), '[100, 101]');
    assert.equal(await get('Port', 'pa', 'vlan_mode'), 'native-untagged');
    assert.equal(await get('Interface', 'pa', 'mtu_request'), '1400');
    assert.equal(await get('Port', 'pb', 'tag'), '20');
    assert.equal(await get('Port', 'pb', 'trunks'), '[]');
  });

  test('a port whose interface vanished is dropped at the next ensure', async () => {
    await ipn('link', 'del', 'pc');
    await driver.ensure(b, signal());
    const ports = await daemons.vsctl(['list-ports', 'oeovs0'], signal());
    assert.deepEqual(ports.trim().split('\n').sort(), ['pa', 'pb', 'up0']);
  });

  test('removing one network takes its ports and VLANs; the last one takes the bridge', async () => {
    await driver.remove(a, signal());
    assert.equal(await driver.present(a, signal()), false);
    assert.equal(await driver.present(b, signal()), true);
    assert.equal(await get('Port', 'up0', 'trunks'), '[20]');
    assert.deepEqual((await daemons.vsctl(['list-ports', 'oeovs0'], signal())).trim().split('\n').sort(), [
      'pb',
      'up0',
    ]);
    await driver.detach(b, 'pb', signal());
    await driver.remove(b, signal());
    await driver.remove(b, signal());
    assert.equal(await driver.present(b, signal()), false);
    await assert.rejects(daemons.vsctl(['br-exists', 'oeovs0'], signal()));
    await assert.rejects(ipn('link', 'show', 'oeovs0'), 'the bridge device is gone too');
  });

  test('a bad VLAN is refused before anything changes', async () => {
    await assert.rejects(driver.ensure({ ...b, vlanId: 5000 }, signal()), /VLAN_ID 5000 is not within 1-4094/);
    await assert.rejects(driver.ensure({ ...b, phydev: 'nope0' }, signal()), /PHYDEV nope0 .* is not on this host/);
    await assert.rejects(daemons.vsctl(['br-exists', 'oeovs0'], signal()));
  });
});
