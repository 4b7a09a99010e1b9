import type { Command } from 'commander';
import type { ApiObject, HostMonitoring, VmUsageSample } from '../client/index.js';
import { formatMegabytes, formatShortTime, formatTime, hostShortState } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit } from './pool-verbs.js';
import { type Column, renderTable } from './table.js';

type HostUsage = NonNullable<NonNullable<ApiObject<'host'>['monitoring']>['usage']>;
type OutputOpts = { json?: boolean; yaml?: boolean };
type WindowOpts = OutputOpts & { from?: string; to?: string; limit?: string };

const LABEL = 20;
const kv = (label: string, value: string) => `${label.padEnd(LABEL)}: ${value}\n`;
const kb = (n: number | undefined) => (n === undefined ? '-' : formatMegabytes(n / 1024));
const bytes = (n: number | undefined) => (n === undefined ? '-' : formatMegabytes(n / 1048576));

/** `--from`/`--to`: ms since the epoch, an ISO date, or `-30m`/`-2h`/`-1d` before now. */
export function parseWhen(text: string, now: number): number {
  const rel = /^-(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`cannot read the time '${text}': use ms since the epoch, an ISO date, or -30m`);
  return t;
}

function window(opts: WindowOpts, now: number): { from?: number; to?: number; limit?: number } {
  return {
    ...(opts.from ? { from: parseWhen(opts.from, now) } : {}),
    ...(opts.to ? { to: parseWhen(opts.to, now) } : {}),
    ...(opts.limit ? { limit: Number(opts.limit) } : {}),
  };
}

/** The CAPACITY / USAGE / NUMA / wild and zombie sections of `host show`. */
export function hostSections(h: ApiObject<'host'>): string {
  let out = '';
  const f = h.facts as (ApiObject<'host'>['facts'] & { cpuModel?: string; cpuMhz?: number; pci?: unknown[] }) | null;
  if (f) {
    out += '\nHOST CAPACITY\n';
    out += kv('TOTAL CPU', `${f.cpus * 100} (${f.cpus} cores${f.cpuModel ? `, ${f.cpuModel}` : ''})`);
    out += kv('TOTAL MEMORY', formatMegabytes(f.memoryMb));
    out += kv('RUNTIMES', f.runtimes.join(',') || '-');
    for (const [rt, why] of Object.entries(f.unusable ?? {})) out += kv(`UNUSABLE ${rt}`, why);
    if (f.pci) out += kv('PCI DEVICES', String(f.pci.length));
  }
  const m = h.monitoring;
  const u: HostUsage | null | undefined = m?.usage;
  if (m && (u || m.datastore)) {
    out += `\nMONITORING (${formatTime(m.ts)})\n`;
    if (u) {
      out += kv('USED CPU', `${u.usedCpu} / ${u.totalCpu}`);
      out += kv('FREE CPU', String(u.freeCpu));
      out += kv('USED MEMORY', `${kb(u.usedMemoryKb)} / ${kb(u.totalMemoryKb)}`);
      out += kv('FREE MEMORY', kb(u.freeMemoryKb));
      out += kv('NET RX / TX', `${bytes(u.netRxBytes)} / ${bytes(u.netTxBytes)}`);
      for (const [k, v] of Object.entries(u.custom ?? {})) out += kv(k, v);
      for (const e of u.probeErrors ?? []) out += kv(`PROBE ERROR ${e.probe}`, e.error);
    }
    if (m.datastore) {
      const d = m.datastore;
      out += kv(
        'SYSTEM DS',
        `${formatMegabytes(d.usedMb)} used, ${formatMegabytes(d.freeMb)} free of ${formatMegabytes(d.totalMb)} (${d.path})`,
      );
    }
  }
  if (f?.numa && f.numa.length > 0) {
    const free = new Map((u?.numa ?? []).map((n) => [n.id, n]));
    out += `\nNUMA NODES\n${renderTable(
      [
        { header: 'ID', cell: (n) => String(n.id), align: 'right' },
        { header: 'CORES', cell: (n) => n.cores.map((c) => c.cpus.join('/')).join(' ') },
        { header: 'MEMORY', cell: (n) => kb(n.memoryKb), align: 'right' },
        { header: 'FREE', cell: (n) => kb(free.get(n.id)?.freeMemoryKb ?? n.freeMemoryKb), align: 'right' },
        {
          header: 'HUGEPAGES',
          cell: (n) =>
            n.hugepages
              .map(
                (p) =>
                  `${p.sizeKb}K:${free.get(n.id)?.hugepages.find((x) => x.sizeKb === p.sizeKb)?.free ?? p.free}/${p.total}`,
              )
              .join(' ') || '-',
        },
      ],
      f.numa,
    )}`;
  }
  if (h.wilds && h.wilds.length > 0) {
    out += `\nWILD WORKLOADS\n${renderTable(
      [
        { header: 'DEPLOY_ID', cell: (w) => w.deploy_id },
        { header: 'RUNTIME', cell: (w) => w.runtime },
      ],
      h.wilds,
    )}`;
  }
  if (h.zombies && h.zombies.length > 0) {
    out += `\nZOMBIE WORKLOADS\n${renderTable(
      [
        { header: 'DEPLOY_ID', cell: (w) => w.deploy_id },
        { header: 'VM', cell: (w) => String(w.vm_id), align: 'right' },
        { header: 'RUNTIME', cell: (w) => w.runtime || '-' },
      ],
      h.zombies,
    )}`;
  }
  return out;
}

/** The USAGE section of `vm show`. */
export function vmUsageSection(u: VmUsageSample | null): string {
  if (!u) return '';
  return (
    `\nVIRTUAL MACHINE MONITORING (${formatTime(u.ts)})\n` +
    kv('CPU', `${u.cpu}%`) +
    kv('MEMORY', kb(u.memoryKb)) +
    kv('NET RX / TX', `${bytes(u.netRxBytes)} / ${bytes(u.netTxBytes)}`) +
    kv('DISK READ / WRITE', `${bytes(u.diskReadBytes)} / ${bytes(u.diskWriteBytes)}`)
  );
}

const VM_SAMPLE_COLUMNS: Column<VmUsageSample>[] = [
  { header: 'TIME', cell: (s) => formatShortTime(s.ts) },
  { header: 'CPU%', cell: (s) => String(s.cpu), align: 'right' },
  { header: 'MEMORY', cell: (s) => kb(s.memoryKb), align: 'right' },
  { header: 'NETRX', cell: (s) => bytes(s.netRxBytes), align: 'right' },
  { header: 'NETTX', cell: (s) => bytes(s.netTxBytes), align: 'right' },
  { header: 'DISKRD', cell: (s) => bytes(s.diskReadBytes), align: 'right' },
  { header: 'DISKWR', cell: (s) => bytes(s.diskWriteBytes), align: 'right' },
  { header: 'HOST', cell: (s) => String(s.host_id), align: 'right' },
];

type HostRow = HostMonitoring['items'][number] & Partial<HostUsage>;
const HOST_SAMPLE_COLUMNS: Column<HostRow>[] = [
  { header: 'TIME', cell: (s) => formatShortTime(s.ts) },
  { header: 'USED_CPU', cell: (s) => String(s.usedCpu ?? '-'), align: 'right' },
  { header: 'FREE_CPU', cell: (s) => String(s.freeCpu ?? '-'), align: 'right' },
  { header: 'USED_MEM', cell: (s) => kb(s.usedMemoryKb), align: 'right' },
  { header: 'FREE_MEM', cell: (s) => kb(s.freeMemoryKb), align: 'right' },
  { header: 'NETRX', cell: (s) => bytes(s.netRxBytes), align: 'right' },
  { header: 'NETTX', cell: (s) => bytes(s.netTxBytes), align: 'right' },
];

function withWindow(cmd: Command): Command {
  return withOutputOptions(cmd)
    .option('--from <time>', 'start: ms since the epoch, ISO date or -30m/-2h/-1d (default: 1 h before --to)')
    .option('--to <time>', 'end (default: now)')
    .option('--limit <n>', 'newest N samples (default 1000)');
}

/** `host monitoring`, `host top`. */
export function registerHostMonitoring(host: Command, ctx: CliContext): void {
  withWindow(host.command('monitoring').description("a host's usage history (onehost monitoring)"))
    .argument('<id>', 'host id or name')
    .action(async (ref: string, opts: WindowOpts) =>
      ctx.withClient(async (one) => {
        const id = await resolveOne(one, 'host', ref);
        const res = await one.hostMonitoring(id, { ...window(opts, ctx.io.now()), kinds: ['host'] });
        emit(ctx, opts, [res], () => renderTable(HOST_SAMPLE_COLUMNS, res.items as HostRow[]));
      }),
    );

  host
    .command('top')
    .description('live view of every host: state, CPU, memory, VMs, last report (q or Ctrl-C to quit)')
    .option('-d, --delay <seconds>', 'refresh period', '2')
    .option('-n, --iterations <n>', 'stop after N refreshes (default: until interrupted)')
    .action(async (opts: { delay: string; iterations?: string }) =>
      ctx.withClient(async (one) => {
        const delay = Math.max(0.2, Number(opts.delay) || 2) * 1000;
        const max = opts.iterations ? Number(opts.iterations) : Number.POSITIVE_INFINITY;
        for (let i = 0; i < max; i++) {
          const [hosts, vms] = await Promise.all([one.list('host', { all: true }), one.list('vm', { all: true })]);
          const perHost = new Map<number, number>();
          for (const v of vms.items) if (v.host_id !== null) perHost.set(v.host_id, (perHost.get(v.host_id) ?? 0) + 1);
          const now = ctx.io.now();
          const screen = renderTable(
            [
              { header: 'ID', cell: (h) => String(h.id), align: 'right' },
              { header: 'NAME', cell: (h) => h.name },
              { header: 'STAT', cell: (h) => hostShortState(h) },
              { header: 'VMS', cell: (h) => String(perHost.get(h.id) ?? 0), align: 'right' },
              {
                header: 'CPU',
                cell: (h) =>
                  h.monitoring?.usage ? `${h.monitoring.usage.usedCpu}/${h.monitoring.usage.totalCpu}` : '-',
                align: 'right',
              },
              {
                header: 'MEMORY',
                cell: (h) =>
                  h.monitoring?.usage
                    ? `${kb(h.monitoring.usage.usedMemoryKb)}/${kb(h.monitoring.usage.totalMemoryKb)}`
                    : '-',
                align: 'right',
              },
              { header: 'WILD', cell: (h) => String(h.wilds?.length ?? 0), align: 'right' },
              {
                header: 'SEEN',
                cell: (h) => (h.last_seen ? `${Math.max(0, Math.round((now - h.last_seen) / 1000))}s ago` : '-'),
                align: 'right',
              },
            ],
            hosts.items,
          );
          // Clear the screen only on a terminal, so `host top -n 1 > file` stays plain text.
          ctx.out(
            `${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${formatTime(now)}  ${hosts.items.length} hosts\n${screen}`,
          );
          if (i + 1 < max) await new Promise((r) => setTimeout(r, delay));
        }
      }),
    );
}

/** `vm monitoring`. */
export function registerVmMonitoring(vm: Command, ctx: CliContext): void {
  withWindow(vm.command('monitoring').description("a VM's usage history (onevm monitoring)"))
    .argument('<id>', 'VM id or name')
    .action(async (ref: string, opts: WindowOpts) =>
      ctx.withClient(async (one) => {
        const res = await one.vmMonitoring(await resolveOne(one, 'vm', ref), window(opts, ctx.io.now()));
        emit(ctx, opts, [res], () => renderTable(VM_SAMPLE_COLUMNS, res.items));
      }),
    );
}
