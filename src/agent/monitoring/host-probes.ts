/**
 * Host probes (OpenNebula's host/system, host/monitor and datastore probes),
 * read straight from procfs/sysfs: no commands are run.
 */
import { readdir, readFile, readlink, statfs } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { HostFacts } from '../../core/agent-protocol.js';
import type { DatastoreUsage, HostSystemInfo, HostUsage, PciDevice } from '../../core/monitoring.js';
import { probeNuma } from '../numa-probe.js';

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function meminfoKb(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Huge page pools of the machine, by size (`/sys/kernel/mm/hugepages`). */
export async function probeHugepages(root = '/sys'): Promise<HostSystemInfo['hugepages']> {
  const dir = join(root, 'kernel/mm/hugepages');
  const out: HostSystemInfo['hugepages'] = [];
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const m = /^hugepages-(\d+)kB$/.exec(e);
    if (!m) continue;
    const total = Number(((await read(join(dir, e, 'nr_hugepages'))) ?? '0').trim());
    const free = Number(((await read(join(dir, e, 'free_hugepages'))) ?? '0').trim());
    out.push({ sizeKb: Number(m[1]), total, free });
  }
  return out.sort((a, b) => a.sizeKb - b.sizeKb);
}

/** PCI devices from `/sys/bus/pci/devices` (OpenNebula's pci.rb lists them with lspci). */
export async function probePci(root = '/sys'): Promise<PciDevice[]> {
  const dir = join(root, 'bus/pci/devices');
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const out: PciDevice[] = [];
  for (const address of entries.sort()) {
    const d = join(dir, address);
    const attr = async (name: string) => ((await read(join(d, name))) ?? '').trim();
    let driver: string | null = null;
    try {
      driver = (await readlink(join(d, 'driver'))).split('/').pop() ?? null;
    } catch {
      // no driver bound
    }
    const node = Number(await attr('numa_node'));
    out.push({
      address,
      vendor: await attr('vendor'),
      device: await attr('device'),
      class: await attr('class'),
      driver,
      numaNode: Number.isInteger(node) && node >= 0 ? node : null,
    });
  }
  return out;
}

/** SYSTEM_HOST: the hello facts plus CPU model/speed, kernel, hugepages and PCI devices. */
export async function probeSystem(facts: () => Promise<HostFacts>, root = '/sys'): Promise<HostSystemInfo> {
  const cpuinfo = (await read('/proc/cpuinfo')) ?? '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? '';
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1] ?? '0');
  return {
    ...(await facts()),
    cpuModel: model,
    cpuMhz: Math.round(mhz),
    kernel: release(),
    hugepages: await probeHugepages(root),
    pci: await probePci(root),
  };
}

interface CpuSample {
  busy: number;
  total: number;
}

function parseProcStat(text: string): CpuSample {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { busy: total - idle, total };
}

/** Sums rx/tx bytes over every interface but loopback (`/proc/net/dev` of the agent's namespace). */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name?.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

/**
 * MONITOR_HOST: CPU busy share from /proc/stat deltas (between two runs; the
 * first run measures a short 100 ms window), memory from /proc/meminfo, network
 * counters, per-NUMA-node free memory and hugepages. Custom attributes come from
 * the operator's probe scripts (`extra`).
 */
export class HostUsageProbe {
  private last: CpuSample | null = null;

  constructor(
    private readonly cpus: number,
    private readonly root = '/sys',
  ) {}

  async run(extra: Pick<HostUsage, 'custom' | 'probeErrors'>): Promise<HostUsage> {
    let sample = parseProcStat((await read('/proc/stat')) ?? '');
    if (!this.last) {
      this.last = sample;
      await new Promise((r) => setTimeout(r, 100));
      sample = parseProcStat((await read('/proc/stat')) ?? '');
    }
    const dt = sample.total - this.last.total;
    const busyShare = dt > 0 ? Math.min(1, Math.max(0, (sample.busy - this.last.busy) / dt)) : 0;
    this.last = sample;
    const totalCpu = this.cpus * 100;
    const usedCpu = Math.round(busyShare * totalCpu);
    const meminfo = (await read('/proc/meminfo')) ?? '';
    const totalMemoryKb = meminfoKb(meminfo, 'MemTotal');
    const available = meminfoKb(meminfo, 'MemAvailable') || meminfoKb(meminfo, 'MemFree');
    const net = parseNetDev((await read('/proc/net/dev')) ?? '');
    const numa = (await probeNuma(this.root)).map((n) => ({
      id: n.id,
      freeMemoryKb: n.freeMemoryKb,
      usedMemoryKb: Math.max(0, n.memoryKb - n.freeMemoryKb),
      hugepages: n.hugepages.map((h) => ({ sizeKb: h.sizeKb, free: h.free })),
    }));
    return {
      totalCpu,
      usedCpu,
      freeCpu: totalCpu - usedCpu,
      totalMemoryKb,
      usedMemoryKb: totalMemoryKb - available,
      freeMemoryKb: available,
      netRxBytes: net.rx,
      netTxBytes: net.tx,
      numa,
      ...extra,
    };
  }
}

/** The system datastore: capacity of the file system holding the agent's state directory. */
export async function probeDatastore(path: string): Promise<DatastoreUsage> {
  const s = await statfs(path);
  const mb = (blocks: number) => Math.floor((blocks * s.bsize) / 1048576);
  const totalMb = mb(s.blocks);
  const freeMb = mb(s.bavail);
  return { path, totalMb, freeMb, usedMb: totalMb - mb(s.bfree) };
}
