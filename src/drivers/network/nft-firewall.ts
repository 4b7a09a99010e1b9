/**
 * Security groups as nftables rules inside a workload's own network
 * namespace: one chain per NIC and direction, jumped to by interface. Inbound
 * and outbound traffic not allowed by a rule is dropped; replies to allowed
 * connections pass (connection tracking), and so does IPv6 neighbour
 * discovery. The workload has no CAP_NET_ADMIN, so it cannot change them.
 * The whole table is replaced in one `nft -f` transaction, so an update
 * never leaves a window with half the rules.
 */
import { writeFile } from 'node:fs/promises';
import type { PlanNic, PlanSecurityRule } from '../../core/agent-protocol.js';
import { runCommand } from '../runtime/exec.js';

export const NFT_TABLE = 'oneedge';

const V4 = /^[0-9.]+(\/\d+)?(-[0-9.]+)?$/;

export function renderRule(r: PlanSecurityRule): string[] {
  const inbound = r.direction === 'inbound';
  const field = inbound ? 'saddr' : 'daddr';
  const proto = r.protocol.toUpperCase();
  const l4: string[] = [];
  if (proto === 'TCP' || proto === 'UDP') {
    const p = proto.toLowerCase();
    l4.push(
      r.ports.length > 0 ? `${p} dport { ${r.ports.map((x) => x.replace(':', '-')).join(', ')} }` : `meta l4proto ${p}`,
    );
  } else if (proto === 'ICMP') {
    l4.push(r.icmpType !== undefined ? `icmp type ${r.icmpType}` : 'meta l4proto icmp');
  } else if (proto === 'ICMPV6') {
    l4.push(r.icmpType !== undefined ? `icmpv6 type ${r.icmpType}` : 'meta l4proto ipv6-icmp');
  }
  const v4 = r.cidrs.filter((c) => V4.test(c));
  const v6 = r.cidrs.filter((c) => !V4.test(c));
  if (r.cidrs.length === 0) return [[...l4, 'accept'].join(' ')];
  const out: string[] = [];
  if (v4.length > 0) out.push([`ip ${field} { ${v4.join(', ')} }`, ...l4, 'accept'].join(' '));
  if (v6.length > 0) out.push([`ip6 ${field} { ${v6.join(', ')} }`, ...l4, 'accept'].join(' '));
  return out;
}

/** The nft script for every filtered NIC of a workload (NICs without `rules` are not filtered). */
export function renderRuleset(nics: readonly Pick<PlanNic, 'nicId' | 'rules'>[]): string {
  const filtered = nics.filter((n) => n.rules !== undefined);
  const lines = [`table inet ${NFT_TABLE} {}`, `delete table inet ${NFT_TABLE}`, `table inet ${NFT_TABLE} {`];
  const hook = (name: string, dir: 'iifname' | 'oifname', prefix: string) => {
    lines.push(`  chain ${name} {`, `    type filter hook ${name} priority 0; policy accept;`);
    lines.push('    ct state established,related accept');
    for (const n of filtered) lines.push(`    ${dir} "eth${n.nicId}" jump ${prefix}_eth${n.nicId}`);
    lines.push('  }');
  };
  hook('input', 'iifname', 'in');
  hook('output', 'oifname', 'out');
  for (const n of filtered) {
    for (const [prefix, direction] of [
      ['in', 'inbound'],
      ['out', 'outbound'],
    ] as const) {
      lines.push(`  chain ${prefix}_eth${n.nicId} {`);
      lines.push(
        '    meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept',
      );
      for (const r of (n.rules ?? []).filter((x) => x.direction === direction)) {
        for (const text of renderRule(r)) lines.push(`    ${text}`);
      }
      lines.push('    drop', '  }');
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Replaces the workload's firewall in its namespace, atomically. */
export async function applyRuleset(
  netnsPath: string,
  scriptPath: string,
  nics: readonly PlanNic[],
  signal: AbortSignal,
): Promise<void> {
  await writeFile(scriptPath, renderRuleset(nics), { mode: 0o600 });
  await runCommand(['nsenter', `--net=${netnsPath}`, '--', 'nft', '-f', scriptPath], signal);
}
