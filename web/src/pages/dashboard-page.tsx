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
import { HOST_STATE_LIST, type ObjectKind } from '../api';
import { BarChart } from '../components/bar-chart';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { useSummary } from '../data/summary';
import { formatMb } from '../lib/format';
import { hostShortState, hostStateColor, VM_GROUP_COLORS, VM_STATE_GROUPS, vmStateGroup } from '../lib/states';
import { Link } from '../router';
import { KIND_INFO } from './kind-columns';

export function DashboardPage() {
  const { summary, error } = useSummary();
  const vmTotal = summary?.vms.total;

  const vmBars = useMemo(() => {
    const counts = new Map<string, number>(VM_STATE_GROUPS.map((g) => [g, 0]));
    for (const [key, n] of Object.entries(summary?.vms.by_state ?? {})) {
      const [state, lcm_state] = key.split('/');
      const g = vmStateGroup({ state: state ?? '', lcm_state: lcm_state ?? '' });
      counts.set(g, (counts.get(g) ?? 0) + n);
    }
    return VM_STATE_GROUPS.map((g) => ({
      label: g.toLowerCase(),
      value: counts.get(g) ?? 0,
      color: VM_GROUP_COLORS[g],
    }));
  }, [summary]);

  const hostCounts = summary?.hosts.by_state ?? {};
  const hostTotal = summary?.hosts.total ?? 0;
  const capacity = {
    cpu: summary?.vms.allocated.cpu ?? 0,
    vcpu: summary?.vms.allocated.vcpu ?? 0,
    memory: summary?.vms.allocated.memory_mb ?? 0,
    hostCpus: summary?.hosts.cpus ?? 0,
    hostMemory: summary?.hosts.memory_mb ?? 0,
    reporting: summary?.hosts.reporting ?? 0,
  };

  return (
    <>
      <PageHeader title="Dashboard" description="The cloud at a glance; every number follows the event stream." />
      <PageSection>
        {error && <ErrorAlert error={error} title="Cannot read the summary" />}
        <Grid hasGutter>
          <GridItem lg={8} md={12}>
            <Card data-testid="vms-by-state" isFullHeight>
              <CardTitle>
                <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }}>
                  <FlexItem>VMs by state</FlexItem>
                  <FlexItem>
                    <Link to="/vms" className="oe-card-total" data-testid="vm-total">
                      {vmTotal === undefined ? '…' : vmTotal} VM
                      {vmTotal === 1 ? '' : 's'}
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
                      {hostTotal} host{hostTotal === 1 ? '' : 's'}
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
                      <strong>{hostCounts[s] ?? 0}</strong>
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
                    : `Totals from ${capacity.reporting} of ${hostTotal} host(s) whose agents reported.`}
                </Content>
              </CardBody>
            </Card>
          </GridItem>
        </Grid>
        <Gallery hasGutter minWidths={{ default: '180px' }} className="oe-spaced">
          {(['template', 'image', 'datastore', 'vnet', 'cluster', 'user', 'group'] as const).map((k) => (
            <PoolCount key={k} kind={k} count={summary?.counts[k]} />
          ))}
        </Gallery>
      </PageSection>
    </>
  );
}

function PoolCount({ kind, count }: { kind: ObjectKind; count: number | undefined }) {
  const info = KIND_INFO[kind];
  return (
    <Card isCompact data-testid={`count-${kind}`}>
      <CardTitle>
        <Link to={`/${info.path}`}>{info.title}</Link>
      </CardTitle>
      <CardBody className="oe-big">{count ?? '…'}</CardBody>
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
