import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeDriver } from './bridge-driver.js';
import { networkDriverConformance } from './conformance.js';
import { OvsDaemons } from './ovs-daemons.js';
import { OvsDriver } from './ovs-driver.js';
import { VlanDriver } from './vlan-driver.js';
import { VxlanDriver } from './vxlan-driver.js';

// Namespaces need root; CI runs as root. Elsewhere the suites are skipped with that reason.
if (process.getuid?.() === 0) {
  networkDriverConformance('bridge', { make: (netns) => new BridgeDriver({ netns }), usesPhydev: true });
  networkDriverConformance('vxlan', { make: (netns) => new VxlanDriver({ netns }) });
  networkDriverConformance('802.1Q', { make: (netns) => new VlanDriver({ netns }), usesPhydev: true });
  // Each namespace host runs its own ovsdb-server and ovs-vswitchd (userspace datapath).
  const ovs: OvsDaemons[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'oe-ovs-conf-'));
  networkDriverConformance('ovswitch', {
    make: (netns) => {
      const d = new OvsDaemons({ mode: 'own', runDir: join(dir, netns), netns });
      ovs.push(d);
      return new OvsDriver(d, { netns });
    },
    usesPhydev: true,
    cleanup: async () => {
      for (const d of ovs) await d.stop(AbortSignal.timeout(10_000)).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  });
} else if (process.env.CI === 'true') {
  throw new Error('network driver conformance needs root in CI');
}
