import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectOneError } from '../core/template/testing/assert-error.js';
import type { Template } from '../core/template/types.js';
import { parseVmTopology } from './topology.js';

const invalid = (t: Template, attribute: string, message: RegExp) => {
  const err = expectOneError(() => parseVmTopology(t), 'E_TEMPLATE_INVALID');
  assert.equal(err.details.attribute, attribute);
  assert.match(err.message, message);
};

describe('parseVmTopology (reference §4.1)', () => {
  it('no TOPOLOGY and no NUMA_NODE: nothing to place', () => {
    assert.equal(parseVmTopology({ VCPU: '4', MEMORY: '1024' }), undefined);
  });

  it('PIN_POLICY NONE: S×C×T must equal VCPU, NUMA_NODE dropped', () => {
    const t = parseVmTopology({ VCPU: '4', MEMORY: '1024', TOPOLOGY: { SOCKETS: '2', CORES: '2', THREADS: '1' } })!;
    assert.equal(t.pinned, false);
    assert.deepEqual(t.nodes, []);
    invalid(
      { VCPU: '4', TOPOLOGY: { SOCKETS: '2', CORES: '3' } },
      'TOPOLOGY',
      /SOCKETS×CORES×THREADS \(2×3×1\) must equal VCPU \(4\)/,
    );
    invalid({ VCPU: '4', TOPOLOGY: { SOCKETS: '3' } }, 'TOPOLOGY', /must equal VCPU/);
    const dropped = parseVmTopology({ VCPU: '2', MEMORY: '1024', NUMA_NODE: [{ TOTAL_CPUS: '1', MEMORY: '512' }] })!;
    assert.deepEqual(dropped.nodes, []);
  });

  it('NONE with HUGEPAGE_SIZE or NODE_AFFINITY keeps one virtual node', () => {
    const hp = parseVmTopology({
      VCPU: '2',
      MEMORY: '2048',
      TOPOLOGY: { HUGEPAGE_SIZE: '1024', MEMORY_ACCESS: 'shared' },
    })!;
    assert.deepEqual(hp.nodes, [{ totalCpus: 2, memoryKb: 2048 * 1024 }]);
    assert.equal(hp.hugepageSizeKb, 1024 * 1024);
    assert.equal(hp.memoryAccess, 'shared');
    const aff = parseVmTopology({ VCPU: '2', MEMORY: '2048', TOPOLOGY: { NODE_AFFINITY: '1' } })!;
    assert.equal(aff.nodeAffinity, 1);
    assert.equal(aff.nodes.length, 1);
  });

  it('pinned: SOCKETS equal nodes by default, dividing VCPU and MEMORY', () => {
    const t = parseVmTopology({ VCPU: '8', MEMORY: '4096', TOPOLOGY: { PIN_POLICY: 'thread', SOCKETS: '2' } })!;
    assert.equal(t.pinPolicy, 'THREAD');
    assert.equal(t.pinned, true);
    assert.deepEqual(t.nodes, [
      { totalCpus: 4, memoryKb: 2048 * 1024 },
      { totalCpus: 4, memoryKb: 2048 * 1024 },
    ]);
    invalid(
      { VCPU: '3', MEMORY: '4096', TOPOLOGY: { PIN_POLICY: 'CORE', SOCKETS: '2' } },
      'TOPOLOGY/SOCKETS',
      /VCPU \(3\)/,
    );
    invalid(
      { VCPU: '4', MEMORY: '4095', TOPOLOGY: { PIN_POLICY: 'CORE', SOCKETS: '2' } },
      'TOPOLOGY/SOCKETS',
      /MEMORY \(4095\)/,
    );
  });

  it('pinned: CORES with THREADS must multiply to VCPU; CORES alone gives a power-of-2 THREADS', () => {
    const both = parseVmTopology({
      VCPU: '8',
      MEMORY: '1024',
      TOPOLOGY: { PIN_POLICY: 'THREAD', CORES: '4', THREADS: '2' },
    })!;
    assert.equal(both.threads, 2);
    invalid(
      { VCPU: '8', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'THREAD', CORES: '3', THREADS: '2' } },
      'TOPOLOGY',
      /must equal VCPU/,
    );
    const cores = parseVmTopology({ VCPU: '8', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'THREAD', CORES: '2' } })!;
    assert.equal(cores.threads, 4);
    invalid(
      { VCPU: '6', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'THREAD', CORES: '2' } },
      'TOPOLOGY/CORES',
      /power of 2/,
    );
    const free = parseVmTopology({ VCPU: '8', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'SHARED' } })!;
    assert.equal(free.threads, 0);
    assert.equal(free.sockets, 1);
  });

  it('pinned: explicit NUMA_NODEs must add up; SOCKETS defaults to their number', () => {
    const t = parseVmTopology({
      VCPU: '6',
      MEMORY: '3072',
      TOPOLOGY: { PIN_POLICY: 'CORE' },
      NUMA_NODE: [
        { TOTAL_CPUS: '4', MEMORY: '1024' },
        { TOTAL_CPUS: '2', MEMORY: '2048' },
      ],
    })!;
    assert.equal(t.sockets, 2);
    assert.deepEqual(t.nodes, [
      { totalCpus: 4, memoryKb: 1024 * 1024 },
      { totalCpus: 2, memoryKb: 2048 * 1024 },
    ]);
    invalid(
      { VCPU: '6', MEMORY: '3072', TOPOLOGY: { PIN_POLICY: 'CORE' }, NUMA_NODE: [{ TOTAL_CPUS: '4', MEMORY: '3072' }] },
      'NUMA_NODE',
      /TOTAL_CPUS add up to 4, not VCPU \(6\)/,
    );
    invalid(
      { VCPU: '4', MEMORY: '3072', TOPOLOGY: { PIN_POLICY: 'CORE' }, NUMA_NODE: [{ TOTAL_CPUS: '4', MEMORY: '1024' }] },
      'NUMA_NODE',
      /MEMORY adds up to 1024 MB/,
    );
    invalid(
      {
        VCPU: '4',
        MEMORY: '2048',
        TOPOLOGY: { PIN_POLICY: 'CORE', SOCKETS: '1' },
        NUMA_NODE: [
          { TOTAL_CPUS: '2', MEMORY: '1024' },
          { TOTAL_CPUS: '2', MEMORY: '1024' },
        ],
      },
      'TOPOLOGY/SOCKETS',
      /is 1 but the template has 2 NUMA_NODE/,
    );
  });

  it('refuses VCPU_MAX with pinning, bad policies and MEMORY_ACCESS without hugepages', () => {
    invalid(
      { VCPU: '2', VCPU_MAX: '4', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'CORE' } },
      'VCPU_MAX',
      /PIN_POLICY=CORE/,
    );
    invalid(
      { VCPU: '2', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'PINNED' } },
      'TOPOLOGY/PIN_POLICY',
      /CORE, THREAD, SHARED or NONE/,
    );
    invalid(
      { VCPU: '2', MEMORY: '1024', TOPOLOGY: { MEMORY_ACCESS: 'shared' } },
      'TOPOLOGY/MEMORY_ACCESS',
      /needs TOPOLOGY\/HUGEPAGE_SIZE/,
    );
    invalid(
      { VCPU: '2', MEMORY: '1024', TOPOLOGY: { HUGEPAGE_SIZE: '1024', MEMORY_ACCESS: 'x' } },
      'TOPOLOGY/MEMORY_ACCESS',
      /shared or private/,
    );
    invalid({ VCPU: 'two', MEMORY: '1024', TOPOLOGY: { PIN_POLICY: 'CORE' } }, 'VCPU', /integer/);
  });
});
