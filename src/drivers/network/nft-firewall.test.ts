import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderRuleset } from './nft-firewall.js';

describe('nftables rules of security groups', () => {
  it('renders per-NIC chains with ports, addresses and ICMP types, and drops the rest', () => {
    const text = renderRuleset([
      {
        nicId: 0,
        rules: [
          { direction: 'inbound', protocol: 'TCP', ports: ['22', '8000:8100'], cidrs: ['10.0.0.0/24', 'fd00::/64'] },
          { direction: 'inbound', protocol: 'ICMP', ports: [], cidrs: [], icmpType: 8 },
          { direction: 'outbound', protocol: 'ALL', ports: [], cidrs: [] },
        ],
      },
      { nicId: 1 },
    ]);
    assert.match(text, /^table inet oneedge \{\}\ndelete table inet oneedge\n/);
    assert.match(text, /iifname "eth0" jump in_eth0/);
    assert.doesNotMatch(text, /eth1/, 'a NIC without rules is not filtered');
    assert.match(text, /ip saddr \{ 10\.0\.0\.0\/24 \} tcp dport \{ 22, 8000-8100 \} accept/);
    assert.match(text, /ip6 saddr \{ fd00::\/64 \} tcp dport \{ 22, 8000-8100 \} accept/);
    assert.match(text, /icmp type 8 accept/);
    assert.match(text, /chain out_eth0 \{\n.*\n {4}accept\n {4}drop/);
  });
});
