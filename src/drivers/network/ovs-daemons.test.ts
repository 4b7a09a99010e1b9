import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseVlanList } from '../../core/vlan-list.js';
import { OvsDaemons } from './ovs-daemons.js';

const run = promisify(execFile);
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('OVS daemon tests need root in CI');
const signal = () => AbortSignal.timeout(20_000);

describe('VLAN_TAGGED_ID lists', () => {
  test('tags and ranges expand; bad ones say why', () => {
    assert.deepEqual(parseVlanList('10, 20-22,21'), [10, 20, 21, 22]);
    assert.throws(() => parseVlanList('10,x'), /not a list of VLAN tags/);
    assert.throws(() => parseVlanList('0-5'), /not within 1-4094/);
    assert.throws(() => parseVlanList('30-20'), /not within 1-4094/);
  });
});

describe('OVS daemons of a namespace host', { skip: root ? false : 'needs root to create network namespaces' }, () => {
  const ns = `oeovd${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'oe-ovsd-'));
  const own = new OvsDaemons({ mode: 'own', runDir: join(dir, 'ovs'), netns: ns });

  before(async () => {
    await run('ip', ['netns', 'add', ns]);
  });
  after(async () => {
    await own.stop(signal()).catch(() => undefined);
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('off is reported unusable with the reason', async () => {
    const r = await new OvsDaemons({ mode: 'off', runDir: dir }).probe(signal());
    assert.deepEqual(r, { usable: false, reason: 'Open vSwitch is disabled (--ovs off)' });
  });

  test('the probe starts its own pair in the namespace, makes a netdev bridge, and leaves nothing running', async () => {
    const r = await own.probe(signal());
    assert.equal(r.usable, true, r.reason);
    assert.match(r.version ?? '', /^\d+\.\d+\.\d+$/);
    assert.deepEqual(await own.pids(), {}, 'daemons started only for the probe are stopped again');
  });

  test('ready starts them in the host namespace; another manager on the same directory re-uses them', async () => {
    assert.equal(await own.ready(signal()), 'started');
    const pids = await own.pids();
    assert.ok(pids['ovsdb-server'] && pids['ovs-vswitchd'], JSON.stringify(pids));
    const { stdout: nsOf } = await run('ip', ['netns', 'identify', String(pids['ovs-vswitchd'])]);
    assert.equal(nsOf.trim(), ns, 'vswitchd runs inside the host namespace');
    assert.match(await own.vsctl(['get', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable'], signal()), /true/);
    // An agent restarted on the same state directory finds them by their pid files.
    const again = new OvsDaemons({ mode: 'own', runDir: join(dir, 'ovs'), netns: ns });
    assert.equal(await again.ready(signal()), 'running');
    assert.deepEqual(await again.pids(), pids);
    assert.equal(again.owned, true);
  });

  test('mode system uses a running OVS and never stops it', async () => {
    const sys = new OvsDaemons({ mode: 'system', runDir: join(dir, 'unused'), systemDb: own.ownDb, netns: ns });
    const r = await sys.probe(signal());
    assert.equal(r.usable, true, r.reason);
    assert.equal(sys.owned, false);
    await sys.stop(signal());
    assert.ok((await own.pids())['ovs-vswitchd'], 'still running');
    const none = new OvsDaemons({ mode: 'system', runDir: dir, systemDb: `unix:${join(dir, 'nothing.sock')}` });
    const bad = await none.probe(signal());
    assert.equal(bad.usable, false);
    assert.match(bad.reason ?? '', /no system Open vSwitch answers at unix:/);
  });

  test('stop ends both daemons', async () => {
    await own.stop(signal());
    assert.deepEqual(await own.pids(), {});
  });
});
