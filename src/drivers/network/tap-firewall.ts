/**
 * Security groups for microVM NICs: the NIC is a tap on the network's bridge
 * in the host's own network namespace (the guest has its own kernel, so
 * there is no workload namespace to put rules in). Rules are a per-VM
 * `bridge` table matching the tap as the bridge port: frames leaving the
 * bridge through the tap are inbound, frames entering through it outbound.
 *
 * Replies to allowed connections need connection tracking, which the bridge
 * family does not have without nf_conntrack_bridge (absent from many kernels,
 * ours included). Bridged IP traffic is handed to the inet hooks instead
 * (br_netfilter, `net.bridge.bridge-nf-call-ip{,6}tables = 1` in the host's
 * namespace), where a shared `inet oneedge_taps` table marks packets of
 * established or related connections; the per-VM bridge chains run after
 * that (priority 100 > br_netfilter's 0) and accept marked packets first.
 *
 *   inet oneedge_taps    forward: ct state established,related → mark |= ESTABLISHED_MARK
 *   bridge oneedge_vm<N> forward: oifname oe<N>n<k> → in_n<k>; iifname oe<N>n<k> → out_n<k>
 *                        in_n<k>/out_n<k>: marked → accept; ARP, IPv6 ND → accept; rules; drop
 *
 * Each table is replaced in one `nft -f` transaction.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { PlanNic } from '../../core/agent-protocol.js';
import { OneError } from '../../core/errors.js';
import { CommandError, runCommand } from '../runtime/exec.js';
import { renderRule } from './nft-firewall.js';
import { hostIfName } from './workload-netns.js';

export const TAP_CT_TABLE = 'oneedge_taps';
/** The packet-mark bit the inet table sets on packets of established connections. */
export const ESTABLISHED_MARK = 0x10000000;
const MARK = `0x${ESTABLISHED_MARK.toString(16)}`;

export const tapTableName = (vmId: number) => `oneedge_vm${vmId}`;

/** The nft script of one microVM's filtered NICs (NICs without `rules` are not filtered). */
export function renderTapRuleset(vmId: number, nics: readonly Pick<PlanNic, 'nicId' | 'rules'>[]): string {
  const table = tapTableName(vmId);
  const filtered = nics.filter((n) => n.rules !== undefined);
  const lines = [`table bridge ${table} {}`, `delete table bridge ${table}`, `table bridge ${table} {`];
  lines.push('  chain forward {', '    type filter hook forward priority 100; policy accept;');
  for (const n of filtered) {
    const tap = hostIfName(vmId, n.nicId);
    lines.push(`    oifname "${tap}" jump in_n${n.nicId}`, `    iifname "${tap}" jump out_n${n.nicId}`);
  }
  lines.push('  }');
  for (const n of filtered) {
    for (const [prefix, direction] of [
      ['in', 'inbound'],
      ['out', 'outbound'],
    ] as const) {
      lines.push(`  chain ${prefix}_n${n.nicId} {`);
      lines.push(`    meta mark and ${MARK} == ${MARK} accept`);
      lines.push('    ether type arp accept');
      lines.push(
        '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept',
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

/** The shared conntrack-marking table (idempotent: replaced as a whole). */
export function renderTapConntrack(): string {
  return [
    `table inet ${TAP_CT_TABLE} {}`,
    `delete table inet ${TAP_CT_TABLE}`,
    `table inet ${TAP_CT_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    ct state established,related meta mark set meta mark or ${MARK}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

let conntrackReady = false;

/**
 * Bridged IP traffic through the inet hooks (for connection tracking) and the
 * marking table, once per agent process. Fails clearly when the kernel has no
 * br_netfilter: filtering a tap without it would drop every reply.
 */
async function ensureConntrack(scriptPath: string, signal: AbortSignal): Promise<void> {
  if (conntrackReady) return;
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    throw new OneError(
      'E_DRIVER_UNSUPPORTED',
      'security groups on microVM NICs need br_netfilter (net.bridge.bridge-nf-call-iptables is missing)',
    );
  }
  await runCommand(
    ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1'],
    signal,
  );
  await writeFile(scriptPath, renderTapConntrack(), { mode: 0o600 });
  await runCommand(['nft', '-f', scriptPath], signal);
  conntrackReady = true;
}

/** Replaces a microVM's NIC firewall, atomically; a VM without filtered NICs gets no table. */
export async function applyTapRuleset(
  scratchPrefix: string,
  vmId: number,
  nics: readonly PlanNic[],
  signal: AbortSignal,
): Promise<void> {
  if (!nics.some((n) => n.rules !== undefined)) return removeTapRuleset(vmId, signal);
  await ensureConntrack(`${scratchPrefix}-conntrack.nft`, signal);
  const path = `${scratchPrefix}-vm${vmId}.nft`;
  await writeFile(path, renderTapRuleset(vmId, nics), { mode: 0o600 });
  await runCommand(['nft', '-f', path], signal);
}

/** Removes a microVM's NIC firewall table (gone already: fine). */
export async function removeTapRuleset(vmId: number, signal: AbortSignal): Promise<void> {
  try {
    await runCommand(['nft', 'delete', 'table', 'bridge', tapTableName(vmId)], signal);
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
  }
}
