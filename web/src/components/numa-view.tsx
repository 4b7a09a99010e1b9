import { Card, CardBody, CardTitle, EmptyState, EmptyStateBody, Gallery, Label, Title } from '@patternfly/react-core';
import { useMemo } from 'react';
import type { ApiObject } from '../api';
import { usePool } from '../data/hooks';
import { formatMb } from '../lib/format';

type NumaNode = NonNullable<NonNullable<ApiObject<'host'>['facts']>['numa']>[number];

/**
 * A host's NUMA topology as its agent reports it, laid out like Sunstone's
 * NUMA panel: one card per node with its cores and their hardware threads
 * (free, or used by the pinned VMs placed on them), memory and hugepages.
 */
export function NumaView({ host }: { host: ApiObject<'host'> }) {
  const nodes: NumaNode[] = host.facts?.numa ?? [];
  const vms = usePool('vm');
  const pinned = useMemo(() => {
    const byCpu = new Map<number, number[]>();
    for (const vm of vms.items) {
      if (vm.host_id !== host.id || !vm.numa) continue;
      for (const n of vm.numa.nodes) for (const c of n.cpus) byCpu.set(c, [...(byCpu.get(c) ?? []), vm.id]);
    }
    return byCpu;
  }, [vms.items, host.id]);
  if (nodes.length === 0) {
    return (
      <EmptyState titleText="NUMA topology not reported" headingLevel="h2" variant="sm">
        <EmptyStateBody>
          This host's agent has not reported a NUMA topology (its kernel exposes none, or the agent has not connected
          yet).
        </EmptyStateBody>
      </EmptyState>
    );
  }
  return (
    <Gallery hasGutter minWidths={{ default: '320px' }}>
      {nodes.map((node) => (
        <Card key={node.id} aria-label={`NUMA node ${node.id}`} isCompact>
          <CardTitle>
            <Title headingLevel="h3" size="md">
              Node {node.id}
            </Title>
          </CardTitle>
          <CardBody>
            <p>
              Memory: {formatMb(node.memoryKb / 1024)} total, {formatMb(node.freeMemoryKb / 1024)} free
            </p>
            <p>Distances: {node.distance.join(' ') || '—'}</p>
            <p>
              Hugepages:{' '}
              {node.hugepages.length === 0
                ? 'none'
                : node.hugepages.map((h) => `${h.sizeKb / 1024} MB × ${h.total} (${h.free} free)`).join(', ')}
            </p>
            <ul aria-label={`Cores of node ${node.id}`} className="oe-numa-cores">
              {node.cores.map((core) => (
                <li key={core.id} className="oe-numa-core">
                  <span className="oe-numa-core-id">Core {core.id}</span>
                  {core.cpus.map((cpu) => {
                    const users = pinned.get(cpu);
                    return users ? (
                      <Label
                        key={cpu}
                        color="orange"
                        isCompact
                        aria-label={`CPU ${cpu} used by VM ${users.join(', ')}`}
                      >
                        {cpu}: VM {users.join(',')}
                      </Label>
                    ) : (
                      <Label key={cpu} color="green" isCompact aria-label={`CPU ${cpu} free`}>
                        {cpu}
                      </Label>
                    );
                  })}
                </li>
              ))}
            </ul>
          </CardBody>
        </Card>
      ))}
    </Gallery>
  );
}
