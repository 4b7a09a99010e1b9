import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseCpuList, probeNuma } from './numa-probe.js';

function put(root: string, path: string, content: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), content);
}

describe('NUMA probe', () => {
  const root = mkdtempSync(join(tmpdir(), 'oneedge-sysfs-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('parses cpu lists', () => {
    assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList(''), []);
  });

  test('reads nodes, cores by thread siblings, memory, hugepages and distances from sysfs', async () => {
    // two nodes, two cores each, two threads per core (siblings 0,4 / 1,5 on node 0)
    const siblings: Record<number, string> = {
      0: '0,4',
      4: '0,4',
      1: '1,5',
      5: '1,5',
      2: '2,6',
      6: '2,6',
      3: '3,7',
      7: '3,7',
    };
    for (const [cpu, s] of Object.entries(siblings)) {
      put(root, `devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`, `${s}\n`);
      put(root, `devices/system/cpu/cpu${cpu}/topology/core_id`, `${Number(cpu) % 4}\n`);
    }
    for (const [node, cpus] of [
      [0, '0-1,4-5'],
      [1, '2-3,6-7'],
    ] as const) {
      const d = `devices/system/node/node${node}`;
      put(root, `${d}/cpulist`, `${cpus}\n`);
      put(root, `${d}/distance`, node === 0 ? '10 21\n' : '21 10\n');
      put(root, `${d}/meminfo`, `Node ${node} MemTotal:  8000000 kB\nNode ${node} MemFree:   6000000 kB\n`);
      put(root, `${d}/hugepages/hugepages-2048kB/nr_hugepages`, '512\n');
      put(root, `${d}/hugepages/hugepages-2048kB/free_hugepages`, '500\n');
    }
    const nodes = await probeNuma(root);
    assert.equal(nodes.length, 2);
    assert.deepEqual(nodes[0]?.cores, [
      { id: 0, cpus: [0, 4] },
      { id: 1, cpus: [1, 5] },
    ]);
    assert.deepEqual(nodes[1]?.distance, [21, 10]);
    assert.equal(nodes[0]?.memoryKb, 8_000_000);
    assert.equal(nodes[0]?.freeMemoryKb, 6_000_000);
    assert.deepEqual(nodes[1]?.hugepages, [{ sizeKb: 2048, total: 512, free: 500 }]);
  });

  test('reads this machine', async () => {
    const nodes = await probeNuma();
    if (nodes.length === 0) return; // no NUMA information in this kernel's sysfs
    assert.ok(nodes.every((n) => n.cores.length > 0 && n.memoryKb > 0));
  });

  test('a missing sysfs gives no nodes', async () => {
    assert.deepEqual(await probeNuma(join(root, 'nope')), []);
  });
});
