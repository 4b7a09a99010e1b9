/**
 * The network-driver conformance suite: every driver runs the same checks on
 * two namespace "hosts" joined by an underlay link, each with one namespace
 * "workload" plugged into the network. A driver whose probe fails on this
 * kernel (802.1Q here) must say why, and the suite skips with that reason.
 * Imported by test files only (it uses node:test).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { HostNetwork, NetworkDriver } from './types.js';

const run = promisify(execFile);
const ip = (...args: string[]) => run('ip', args);

export interface ConformanceOptions {
  /** Builds the driver for a host namespace. */
  make(netns: string): NetworkDriver;
  /** Network settings (VLAN/VNI) for the test network. */
  network?: Partial<HostNetwork>;
  /** Connect hosts through the driver's uplink (PHYDEV) rather than tunnel peers. */
  usesPhydev?: boolean;
  /** Runs after the namespaces are gone (daemons the drivers started, state directories). */
  cleanup?: () => Promise<void>;
}

export function networkDriverConformance(name: string, opts: ConformanceOptions): void {
  const tag = randomBytes(2).toString('hex');
  const hosts = [`oenc${tag}a`, `oenc${tag}b`];
  const workloads = [`oenc${tag}wa`, `oenc${tag}wb`];
  const under = ['10.199.0.1', '10.199.0.2'];
  const overlay = ['192.168.199.1', '192.168.199.2'];
  const drivers: NetworkDriver[] = [];
  let skip: string | false = false;
  const signal = () => AbortSignal.timeout(20_000);
  const net = (i: number): HostNetwork => ({
    networkId: 7,
    bridge: 'onebr7',
    vlanId: 77,
    localAddress: under[i],
    ...(opts.usesPhydev ? { phydev: 'up0' } : {}),
    ...opts.network,
  });

  describe(`network driver conformance: ${name}`, () => {
    before(async () => {
      for (const ns of [...hosts, ...workloads]) await ip('netns', 'add', ns);
      await ip(
        '-n',
        hosts[0] as string,
        'link',
        'add',
        'up0',
        'type',
        'veth',
        'peer',
        'name',
        'up0',
        'netns',
        hosts[1] as string,
      );
      for (const [i, h] of hosts.entries()) {
        await ip('-n', h, 'link', 'set', 'lo', 'up');
        await ip('-n', h, 'link', 'set', 'up0', 'up');
        if (!opts.usesPhydev) await ip('-n', h, 'addr', 'add', `${under[i]}/24`, 'dev', 'up0');
        const w = workloads[i] as string;
        await ip('-n', h, 'link', 'add', 'wl0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', w);
        await ip('-n', w, 'addr', 'add', `${overlay[i]}/24`, 'dev', 'eth0');
        await ip('-n', w, 'link', 'set', 'eth0', 'up');
        drivers.push(opts.make(h));
      }
      const probe = await (drivers[0] as NetworkDriver).probe(signal());
      if (!probe.usable) {
        assert.ok(probe.reason && probe.reason.length > 0, 'an unusable driver says why');
        skip = probe.reason ?? 'unusable';
      }
    });
    after(async () => {
      for (const ns of [...workloads, ...hosts]) await ip('netns', 'del', ns).catch(() => undefined);
      await opts.cleanup?.();
    });

    test('capabilities are data', () => {
      const c = (drivers[0] as NetworkDriver).capabilities;
      assert.equal(c.name, name);
      assert.equal(typeof c.overlay, 'boolean');
      assert.equal(typeof c.mtuOverhead, 'number');
    });

    test('ensure is idempotent and joins workloads on two hosts', async (t) => {
      if (skip) return t.skip(skip);
      for (const [i, d] of drivers.entries()) {
        await d.ensure(net(i), signal());
        await d.ensure(net(i), signal());
        await d.attach(net(i), 'wl0', signal());
        await d.attach(net(i), 'wl0', signal());
        await d.setPeers(net(i), [under[1 - i] as string], signal());
        await d.setPeers(net(i), [under[1 - i] as string], signal());
        assert.equal(await d.present(net(i), signal()), true);
      }
      const ping = await run('ip', [
        'netns',
        'exec',
        workloads[0] as string,
        'busybox',
        'ping',
        '-c',
        '1',
        '-W',
        '2',
        overlay[1] as string,
      ]).then(
        () => '',
        (err: unknown) => String(err),
      );
      assert.equal(ping, '', 'the workloads reach each other across the hosts');
    });

    test('remove takes the host pieces away, twice without error', async (t) => {
      if (skip) return t.skip(skip);
      for (const [i, d] of drivers.entries()) {
        await d.detach(net(i), 'wl0', signal());
        await d.detach(net(i), 'wl0', signal());
        await d.remove(net(i), signal());
        await d.remove(net(i), signal());
        assert.equal(await d.present(net(i), signal()), false);
      }
    });
  });
}
