import { BridgeDriver } from './bridge-driver.js';
import { networkDriverConformance } from './conformance.js';
import { VlanDriver } from './vlan-driver.js';
import { VxlanDriver } from './vxlan-driver.js';

// Namespaces need root; CI runs as root. Elsewhere the suites are skipped with that reason.
if (process.getuid?.() === 0) {
  networkDriverConformance('bridge', { make: (netns) => new BridgeDriver({ netns }), usesPhydev: true });
  networkDriverConformance('vxlan', { make: (netns) => new VxlanDriver({ netns }) });
  networkDriverConformance('802.1Q', { make: (netns) => new VlanDriver({ netns }), usesPhydev: true });
} else if (process.env.CI === 'true') {
  throw new Error('network driver conformance needs root in CI');
}
