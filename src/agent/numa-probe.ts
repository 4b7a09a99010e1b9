import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NumaNodeFacts } from '../core/agent-protocol.js';

/** Parses Linux cpu list syntax: `0-3,8,10-11`. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    const end = b !== undefined && Number.isInteger(b) ? b : a;
    for (let i = a; i <= end; i++) out.push(i);
  }
  return out;
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function meminfoKb(text: string, key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * The host's NUMA topology from sysfs, like OpenNebula's numa_host.rb probe:
 * per node its cores (grouped by thread siblings, with core ids), memory
 * total/free, hugepages per size and the distance list. `root` is `/sys` in
 * production and a fixture directory in tests. Returns [] when sysfs has no
 * NUMA information (then the host is treated as one node by nobody).
 */
export async function probeNuma(root = '/sys'): Promise<NumaNodeFacts[]> {
  const nodeDir = join(root, 'devices/system/node');
  let entries: string[];
  try {
    entries = (await readdir(nodeDir)).filter((e) => /^node\d+$/.test(e));
  } catch {
    return [];
  }
  const nodes: NumaNodeFacts[] = [];
  for (const entry of entries.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))) {
    const id = Number(entry.slice(4));
    const dir = join(nodeDir, entry);
    const cpus = parseCpuList((await read(join(dir, 'cpulist'))) ?? '');
    const cores = new Map<string, { id: number; cpus: number[] }>();
    for (const cpu of cpus) {
      const topo = join(root, 'devices/system/cpu', `cpu${cpu}`, 'topology');
      const siblings = ((await read(join(topo, 'thread_siblings_list'))) ?? String(cpu)).trim();
      const coreId = Number(((await read(join(topo, 'core_id'))) ?? String(cpu)).trim());
      if (!cores.has(siblings)) cores.set(siblings, { id: coreId, cpus: parseCpuList(siblings) });
    }
    const meminfo = (await read(join(dir, 'meminfo'))) ?? '';
    const hugepages: NumaNodeFacts['hugepages'] = [];
    try {
      for (const h of await readdir(join(dir, 'hugepages'))) {
        const size = /^hugepages-(\d+)kB$/.exec(h);
        if (!size) continue;
        const total = Number(((await read(join(dir, 'hugepages', h, 'nr_hugepages'))) ?? '0').trim());
        const free = Number(((await read(join(dir, 'hugepages', h, 'free_hugepages'))) ?? '0').trim());
        hugepages.push({ sizeKb: Number(size[1]), total, free });
      }
    } catch {
      // no hugepages directory: none configured
    }
    const distance = ((await read(join(dir, 'distance'))) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    nodes.push({
      id,
      cores: [...cores.values()].sort((a, b) => (a.cpus[0] ?? 0) - (b.cpus[0] ?? 0)),
      memoryKb: meminfoKb(meminfo, 'MemTotal'),
      freeMemoryKb: meminfoKb(meminfo, 'MemFree'),
      hugepages: hugepages.sort((a, b) => a.sizeKb - b.sizeKb),
      distance,
    });
  }
  return nodes;
}
