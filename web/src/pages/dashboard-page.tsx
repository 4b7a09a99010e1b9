import {
  Card,
  CardBody,
  CardTitle,
  Content,
  Flex,
  FlexItem,
  Gallery,
  Grid,
  GridItem,
  Label,
  PageSection,
  Progress,
  ProgressMeasureLocation,
} from '@patternfly/react-core';
import { useMemo } from 'react';
import { type ApiObject, HOST_STATE_LIST, type ObjectKind } from '../api';
import { BarChart } from '../components/bar-chart';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { usePool } from '../data/hooks';
import { formatMb, num } from '../lib/format';
import { hostShortState, hostStateColor, VM_GROUP_COLORS, VM_STATE_GROUPS, vmStateGroup } from '../lib/states';
import { Link } from '../router';
import { hostAgent, KIND_INFO } from './kind-columns';

/** VM states that hold capacity on their host (OpenNebula charges POWEROFF and SUSPENDED too). */
const CHARGED = new Set(['ACTIVE', 'POWEROFF', 'SUSPENDED']);

export function DashboardPage() {
  const vms = usePool('vm');
  const hosts = usePool('host');

  const vmBars = useMemo(() => {
    const counts = new Map<string, number>(VM_STATE_GROUPS.map((g) => [g, 0]));
    for (const vm of vms.items) {
      const g = vmStateGroup(vm);
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
    return VM_STATE_GROUPS.map((g) => ({
      label: g.toLowerCase(),
      value: counts.get(g) ?? 0,
      color: VM_GROUP_COLORS[g],
    }));
  }, [vms.items]);

  const hostCounts = useMemo(() => {
    const counts = new Map<string, number>();
    for (const h of hosts.items) counts.set(h.state ?? '', (counts.get(h.state ?? '') ?? 0) + 1);
    return counts;
  }, [hosts.items]);

  const capacity = useMemo(() => capacityOf(vms.items, hosts.items), [vms.items, hosts.items]);

  return (
    <>
      <PageHeader title="Dashboard" description="The cloud at a glance; every number follows the event stream." />
      <PageSection>
        {vms.error && <ErrorAlert error={vms.error} title="Cannot list VMs" />}
        {hosts.error && <ErrorAlert error={hosts.error} title="Cannot list hosts" />}
        <Grid hasGutter>
          <GridItem lg={8} md={12}>
            <Card data-testid="vms-by-state" isFullHeight>
              <CardTitle>
                <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }}>
                  <FlexItem>VMs by state</FlexItem>
                  <FlexItem>
                    <Link to="/vms" className="oe-card-total" data-testid="vm-total">
                      {vms.loading && vms.items.length === 0 ? '…' : vms.items.length} VM
                      {vms.items.length === 1 ? '' : 's'}
                    </Link>
                  </FlexItem>
                </Flex>
              </CardTitle>
              <CardBody>
                <BarChart bars={vmBars} title="VMs by state" />
                <Flex className="oe-legend" spaceItems={{ default: 'spaceItemsMd' }}>
                  {vmBars.map((b) => (
                    <FlexItem key={b.label} data-group={b.label}>
                      <span className="oe-swatch" style={{ background: b.color }} aria-hidden="true" />
                      {b.label} <strong>{b.value}</strong>
                    </FlexItem>
                  ))}
                </Flex>
              </CardBody>
            </Card>
          </GridItem>
          <GridItem lg={4} md={12}>
            <Card data-testid="hosts-by-state" isFullHeight>
              <CardTitle>
                <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }}>
                  <FlexItem>Hosts by state</FlexItem>
                  <FlexItem>
                    <Link to="/hosts" className="oe-card-total">
                      {hosts.items.length} host{hosts.items.length === 1 ? '' : 's'}
                    </Link>
                  </FlexItem>
                </Flex>
              </CardTitle>
              <CardBody>
                <ul className="oe-state-list">
                  {HOST_STATE_LIST.map((s) => (
                    <li key={s} data-state={s}>
                      <Label isCompact color={hostStateColor(s)}>
                        {hostShortState(s)}
                      </Label>
                      <span className="oe-state-name">{s}</span>
                      <strong>{hostCounts.get(s) ?? 0}</strong>
                    </li>
                  ))}
                </ul>
              </CardBody>
            </Card>
          </GridItem>
          <GridItem span={12}>
            <Card data-testid="capacity">
              <CardTitle>Capacity</CardTitle>
              <CardBody>
                <Grid hasGutter>
                  <GridItem md={6}>
                    <CapacityBar
                      title="CPU"
                      used={capacity.cpu}
                      total={capacity.hostCpus}
                      unit={(n) => `${round(n)}`}
                      detail={`${capacity.vcpu} VCPU allocated`}
                    />
                  </GridItem>
                  <GridItem md={6}>
                    <CapacityBar title="Memory" used={capacity.memory} total={capacity.hostMemory} unit={formatMb} />
                  </GridItem>
                </Grid>
                <Content component="small" className="oe-muted">
                  Allocated: what VMs that hold a host (running, powered off, suspended) asked for.{' '}
                  {capacity.reporting === 0
                    ? 'Totals appear when host agents report their machines (no host has yet).'
                    : `Totals from ${capacity.reporting} of ${hosts.items.length} host(s) whose agents reported.`}
                </Content>
              </CardBody>
            </Card>
          </GridItem>
        </Grid>
        <Gallery hasGutter minWidths={{ default: '180px' }} className="oe-spaced">
          {(['template', 'image', 'datastore', 'vnet', 'cluster', 'user', 'group'] as const).map((k) => (
            <PoolCount key={k} kind={k} />
          ))}
        </Gallery>
      </PageSection>
    </>
  );
}

function PoolCount({ kind }: { kind: ObjectKind }) {
  const pool = usePool(kind);
  const info = KIND_INFO[kind];
  return (
    <Card isCompact data-testid={`count-${kind}`}>
      <CardTitle>
        <Link to={`/${info.path}`}>{info.title}</Link>
      </CardTitle>
      <CardBody className="oe-big">{pool.error ? '—' : pool.items.length}</CardBody>
    </Card>
  );
}

function CapacityBar({
  title,
  used,
  total,
  unit,
  detail,
}: {
  title: string;
  used: number;
  total: number;
  unit: (n: number) => string;
  detail?: string;
}) {
  if (total <= 0) {
    return (
      <div className="oe-capacity">
        <strong>{title}</strong>: {unit(used)} allocated{detail ? ` · ${detail}` : ''} · total not reported
      </div>
    );
  }
  return (
    <Progress
      title={`${title}${detail ? ` (${detail})` : ''}`}
      value={Math.min(100, (used / total) * 100)}
      label={`${unit(used)} of ${unit(total)}`}
      measureLocation={ProgressMeasureLocation.outside}
      aria-label={`${title} allocated`}
    />
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function capacityOf(vms: readonly ApiObject<'vm'>[], hosts: readonly ApiObject<'host'>[]) {
  let cpu = 0;
  let vcpu = 0;
  let memory = 0;
  for (const vm of vms) {
    if (!CHARGED.has(vm.state ?? '') || vm.host_id === null) continue;
    cpu += num(vm.template.CPU);
    vcpu += num(vm.template.VCPU) || 1;
    memory += num(vm.template.MEMORY);
  }
  let hostCpus = 0;
  let hostMemory = 0;
  let reporting = 0;
  for (const h of hosts) {
    const facts = hostAgent(h).facts;
    if (!facts) continue;
    reporting++;
    hostCpus += facts.cpus ?? 0;
    hostMemory += facts.memoryMb ?? 0;
  }
  return { cpu, vcpu, memory, hostCpus, hostMemory, reporting };
}
