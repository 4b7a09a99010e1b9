import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESTABLISHED_MARK, renderTapConntrack, renderTapRuleset, tapTableName } from './tap-firewall.js';

const rules = [
  {
    nicId: 0,
    rules: [
      { direction: 'inbound' as const, protocol: 'TCP', ports: ['80', '8000:8100'], cidrs: ['10.0.0.0/24'] },
      { direction: 'outbound' as const, protocol: 'ALL', ports: [], cidrs: [] },
    ],
  },
  { nicId: 1 },
];

const root = process.getuid?.() === 0;

describe('security groups on microVM taps (bridge table + conntrack mark)', () => {
  it('matches the tap as the bridge port: out of the bridge = inbound, into it = outbound', () => {
    const text = renderTapRuleset(7, rules);
    assert.match(text, /^table bridge oneedge_vm7 \{\}\ndelete table bridge oneedge_vm7\n/);
    assert.match(text, /type filter hook forward priority 100;/, 'after br_netfilter (priority 0)');
    assert.match(text, /oifname "oe7n0" jump in_n0/);
    assert.match(text, /iifname "oe7n0" jump out_n0/);
    assert.doesNotMatch(text, /oe7n1/, 'a NIC without rules is not filtered');
    const mark = `0x${ESTABLISHED_MARK.toString(16)}`;
    assert.match(
      text,
      new RegExp(`chain in_n0 \\{\\n {4}meta mark and ${mark} == ${mark} accept\\n {4}ether type arp accept`),
    );
    assert.match(text, /ip saddr \{ 10\.0\.0\.0\/24 \} tcp dport \{ 80, 8000-8100 \} accept\n {4}drop/);
    assert.match(renderTapConntrack(), /ct state established,related meta mark set meta mark or 0x10000000/);
    assert.equal(tapTableName(12), 'oneedge_vm12');
  });

  it('is accepted by nft (checked in a scratch network namespace)', { skip: root ? false : 'needs root' }, async () => {
    const ns = `oetapfw${process.pid}`;
    const dir = await mkdtemp(join(tmpdir(), 'oe-tapfw-'));
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      for (const [name, text] of [
        ['ct.nft', renderTapConntrack()],
        ['vm.nft', renderTapRuleset(7, rules)],
        ['vm-again.nft', renderTapRuleset(7, [{ nicId: 0, rules: [] }])],
      ] as const) {
        writeFileSync(join(dir, name), text);
        execFileSync('nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', '-f', join(dir, name)]);
      }
      const listed = execFileSync(
        'nsenter',
        [`--net=/run/netns/${ns}`, '--', 'nft', 'list', 'table', 'bridge', 'oneedge_vm7'],
        {
          encoding: 'utf8',
        },
      );
      assert.match(listed, /chain in_n0/);
      assert.doesNotMatch(listed, /tcp dport/, 'the second load replaced the table as a whole');
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
