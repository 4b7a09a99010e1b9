import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneError } from '../errors.js';
import {
  type AddressRange,
  addressAt,
  checkOverlap,
  childRange,
  chooseLease,
  eui64,
  findFreeBlock,
  formatIpv6,
  macFromIpv4,
  maskOf,
  nicContext,
  parseAddressRange,
  parseIpv4,
  parseIpv6,
  parseMac,
  parseSecurityRule,
  prefixOfMask,
} from './index.js';

const OPTS = { macPrefix: 0x0200n, randomMacSuffix: 0x11223344, attribute: 'AR[0]' };
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OneError, String(err));
    return err.code;
  }
  assert.fail('expected an error');
};
const used = (entries: [number, number[]][]) => new Map(entries.map(([k, v]) => [k, new Set(v)]));

describe('address arithmetic', () => {
  it('parses and formats IPv4, masks and MACs', () => {
    assert.equal(parseIpv4('10.0.0.1'), 0x0a000001);
    assert.equal(parseIpv4('256.0.0.1'), undefined);
    assert.equal(parseIpv4('01.2.3.4'), undefined);
    assert.equal(maskOf(24), '255.255.255.0');
    assert.equal(maskOf(16), '255.255.0.0');
    assert.equal(prefixOfMask('255.255.240.0'), 20);
    assert.equal(prefixOfMask('255.0.255.0'), undefined);
    assert.equal(parseMac('02:00:0A:00:00:01'), 0x02000a000001n);
    assert.equal(parseMac('02:00:0a:00:00'), undefined);
  });

  it('parses and formats IPv6 (RFC 5952)', () => {
    assert.equal(formatIpv6(parseIpv6('fd00:0:0:0:0:0:0:1') as bigint), 'fd00::1');
    assert.equal(formatIpv6(parseIpv6('2001:db8::1:0:0:1') as bigint), '2001:db8::1:0:0:1');
    assert.equal(formatIpv6(parseIpv6('::ffff:10.0.0.1') as bigint), '::ffff:a00:1');
    assert.equal(parseIpv6('1::2::3'), undefined);
    assert.equal(parseIpv6('fd00::g'), undefined);
  });

  it('derives OpenNebula MACs from IPv4 and EUI-64 interface ids from MACs', () => {
    assert.equal(macFromIpv4(0x0200n, parseIpv4('10.0.0.5') as number), 0x02000a000005n);
    // 02:00:0a:00:00:05 -> 0000:0aff:fe00:0005 (U/L bit flipped)
    assert.equal(eui64(0x02000a000005n), 0x00000afffe000005n);
  });
});

describe('address ranges', () => {
  it('IP4: MAC from the prefix and the IP; lease i adds i to both', () => {
    const ar = parseAddressRange({ TYPE: 'IP4', IP: '10.0.0.10', SIZE: '5' }, 0, OPTS);
    assert.equal(ar.mac, '02:00:0a:00:00:0a');
    assert.deepEqual(addressAt(ar, 2), { ar_id: 0, index: 2, mac: '02:00:0a:00:00:0c', ip: '10.0.0.12' });
  });

  it('IP6 SLAAC and IP4_6_STATIC addresses', () => {
    const slaac = parseAddressRange({ TYPE: 'IP4_6', IP: '10.0.0.1', SIZE: '2', ULA_PREFIX: 'fd01:2:3:4::' }, 1, OPTS);
    assert.equal(addressAt(slaac, 0).ip6_ula, 'fd01:2:3:4:0:aff:fe00:1');
    const stat = parseAddressRange(
      { TYPE: 'IP6_STATIC', IP6: 'fd00::100', PREFIX_LENGTH: '64', SIZE: '3', MAC: '02:aa:00:00:00:00' },
      2,
      OPTS,
    );
    assert.deepEqual(addressAt(stat, 2), { ar_id: 2, index: 2, mac: '02:aa:00:00:00:02', ip6: 'fd00::102' });
    const ether = parseAddressRange({ TYPE: 'ETHER', SIZE: '4' }, 3, OPTS);
    assert.equal(ether.mac, '02:00:11:22:33:44');
  });

  it('rejects bad ranges naming the attribute', () => {
    const attr = (v: Record<string, string>) => {
      try {
        parseAddressRange(v, 0, OPTS);
      } catch (err) {
        return (err as OneError).details.attribute;
      }
      return undefined;
    };
    assert.equal(attr({ TYPE: 'IP5', SIZE: '1' }), 'AR[0]/TYPE');
    assert.equal(attr({ TYPE: 'IP4', SIZE: '1' }), 'AR[0]/IP');
    assert.equal(attr({ TYPE: 'IP4', IP: '10.0.0.1', SIZE: '0' }), 'AR[0]/SIZE');
    assert.equal(attr({ TYPE: 'IP4', IP: '255.255.255.250', SIZE: '10' }), 'AR[0]/SIZE');
    assert.equal(attr({ TYPE: 'IP6', SIZE: '2' }), 'AR[0]/GLOBAL_PREFIX');
    assert.equal(attr({ TYPE: 'ETHER', SIZE: '2', MAC: '01:00:00:00:00:00' }), 'AR[0]/MAC');
  });

  it('refuses overlapping ranges (IPv4, MAC)', () => {
    const a = parseAddressRange({ TYPE: 'IP4', IP: '10.0.0.1', SIZE: '10' }, 0, OPTS);
    const b = parseAddressRange({ TYPE: 'IP4', IP: '10.0.0.10', SIZE: '10' }, 1, OPTS);
    const c = parseAddressRange({ TYPE: 'IP4', IP: '10.0.0.11', SIZE: '10' }, 2, OPTS);
    assert.equal(
      code(() => checkOverlap([a], b)),
      'E_AR_OVERLAP',
    );
    checkOverlap([a], c);
    const e = parseAddressRange({ TYPE: 'ETHER', SIZE: '4', MAC: '02:00:0a:00:00:03' }, 3, OPTS);
    assert.equal(
      code(() => checkOverlap([a], e)),
      'E_AR_OVERLAP',
    );
  });
});

describe('lease allocation', () => {
  const ars: AddressRange[] = [
    parseAddressRange({ TYPE: 'IP4', IP: '10.0.0.1', SIZE: '3' }, 0, OPTS),
    parseAddressRange({ TYPE: 'IP4', IP: '10.0.1.1', SIZE: '2' }, 1, OPTS),
  ];

  it('takes the lowest free index of the first range with room', () => {
    assert.equal(chooseLease(ars, used([]), {}).ip, '10.0.0.1');
    assert.equal(chooseLease(ars, used([[0, [0, 2]]]), {}).ip, '10.0.0.2');
    assert.equal(chooseLease(ars, used([[0, [0, 1, 2]]]), {}).ip, '10.0.1.1');
    assert.equal(chooseLease(ars, used([[0, [0, 1, 2]]]), { arId: 1 }).ip, '10.0.1.1');
  });

  it('gives a specific IP or MAC when free, with clear codes otherwise', () => {
    assert.equal(chooseLease(ars, used([]), { ip: '10.0.1.2' }).mac, '02:00:0a:00:01:02');
    assert.equal(chooseLease(ars, used([]), { mac: '02:00:0a:00:00:03' }).ip, '10.0.0.3');
    assert.equal(
      code(() => chooseLease(ars, used([[0, [1]]]), { ip: '10.0.0.2' })),
      'E_LEASE_IN_USE',
    );
    assert.equal(
      code(() => chooseLease(ars, used([[0, [1]]]), { mac: '02:00:0a:00:00:02' })),
      'E_MAC_IN_USE',
    );
    assert.equal(
      code(() => chooseLease(ars, used([]), { ip: '10.9.9.9' })),
      'E_IP_OUT_OF_RANGE',
    );
    assert.equal(
      code(() => chooseLease(ars, used([]), { ip: 'nope' })),
      'E_VALIDATION',
    );
    assert.equal(
      code(() => chooseLease(ars, used([]), { ip: '10.0.0.1', mac: '02:00:0a:00:00:02' })),
      'E_VALIDATION',
    );
  });

  it('reports exhaustion', () => {
    const full = used([
      [0, [0, 1, 2]],
      [1, [0, 1]],
    ]);
    assert.equal(
      code(() => chooseLease(ars, full, {})),
      'E_LEASE_EXHAUSTED',
    );
  });

  it('finds a free block for a reservation and builds its range', () => {
    const block = findFreeBlock(ars, used([[0, [1]]]), 2);
    assert.equal(block.ar.ar_id, 1);
    const child = childRange(block.ar, block.start, 2, 0);
    assert.deepEqual(
      [child.ip, child.mac, child.size, child.parent_network_ar_id],
      ['10.0.1.1', '02:00:0a:00:01:01', 2, 1],
    );
    assert.equal(
      code(() => findFreeBlock(ars, used([]), 4)),
      'E_LEASE_EXHAUSTED',
    );
  });

  it('scales to a /16: next free in a nearly full range stays fast', () => {
    const big = [parseAddressRange({ TYPE: 'IP4', IP: '10.1.0.0', SIZE: '65536' }, 0, OPTS)];
    const taken = new Set<number>();
    for (let i = 0; i < 65535; i++) taken.add(i);
    const lease = chooseLease(big, new Map([[0, taken]]), {});
    assert.equal(lease.ip, '10.1.255.255');
  });
});

describe('NIC context', () => {
  it('writes ETHx variables from the leased NICs', () => {
    const ctx = nicContext([
      { NIC_ID: '0', IP: '10.0.0.5', MAC: '02:00:0a:00:00:05', GATEWAY: '10.0.0.1', DNS: '10.0.0.2', MTU: '1450' },
      { NIC_ID: '1', IP: '192.168.1.9', MAC: '02:00:c0:a8:01:09', NETWORK_MASK: '255.255.0.0' },
    ]);
    assert.deepEqual(ctx, {
      ETH0_MAC: '02:00:0a:00:00:05',
      ETH0_IP: '10.0.0.5',
      ETH0_MASK: '255.255.255.0',
      ETH0_NETWORK: '10.0.0.0',
      ETH0_GATEWAY: '10.0.0.1',
      ETH0_DNS: '10.0.0.2',
      ETH0_MTU: '1450',
      ETH1_MAC: '02:00:c0:a8:01:09',
      ETH1_IP: '192.168.1.9',
      ETH1_MASK: '255.255.0.0',
      ETH1_NETWORK: '192.168.0.0',
    });
  });
});

describe('security group rules', () => {
  it('parses OpenNebula RULE vectors', () => {
    assert.deepEqual(
      parseSecurityRule(
        { PROTOCOL: 'tcp', RULE_TYPE: 'inbound', RANGE: '22,8000:8100', IP: '10.0.0.1', SIZE: '9' },
        'RULE[0]',
      ),
      {
        rule_type: 'inbound',
        protocol: 'TCP',
        ports: ['22', '8000:8100'],
        addresses: ['10.0.0.1-10.0.0.9'],
      },
    );
    assert.deepEqual(
      parseSecurityRule({ PROTOCOL: 'ICMP', RULE_TYPE: 'outbound', ICMP_TYPE: '8', NETWORK_ID: '3' }, 'RULE[1]'),
      {
        rule_type: 'outbound',
        protocol: 'ICMP',
        ports: [],
        addresses: [],
        icmp_type: 8,
        network_id: 3,
      },
    );
  });

  it('names the bad attribute', () => {
    const attr = (v: Record<string, string>) => {
      try {
        parseSecurityRule(v, 'RULE[0]');
      } catch (err) {
        return (err as OneError).details.attribute;
      }
      return undefined;
    };
    assert.equal(attr({ PROTOCOL: 'SCTP', RULE_TYPE: 'inbound' }), 'RULE[0]/PROTOCOL');
    assert.equal(attr({ PROTOCOL: 'TCP', RULE_TYPE: 'sideways' }), 'RULE[0]/RULE_TYPE');
    assert.equal(attr({ PROTOCOL: 'TCP', RULE_TYPE: 'inbound', RANGE: '70000' }), 'RULE[0]/RANGE');
    assert.equal(attr({ PROTOCOL: 'ICMP', RULE_TYPE: 'inbound', RANGE: '22' }), 'RULE[0]/RANGE');
    assert.equal(attr({ PROTOCOL: 'ALL', RULE_TYPE: 'inbound', IP: '10.0.0.300' }), 'RULE[0]/IP');
  });
});
