import { EmptyState, EmptyStateBody, Grid, GridItem, Spinner } from '@patternfly/react-core';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ApiObject } from '../api';
import type { EventBatch } from '../data/event-hub';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { formatMb } from '../lib/format';
import { ErrorAlert } from './error-alert';
import { TimeChart } from './time-chart';

/** How far back the graphs reach. */
const WINDOW_MS = 3_600_000;

type Sample = { ts: number } & Record<string, unknown>;

/**
 * Monitoring history of one VM or host: the last hour from
 * `GET …/monitoring?from&to`, then only what is newer (`from` = the newest
 * sample + 1) each time the event stream says there is more — a VM
 * monitoring event naming the VM (sent when its usage samples are stored),
 * or a change of the host (the monitor controller updates a host every time
 * its agent pushes host usage) — so nothing polls. Samples older than the
 * window drop out.
 */
function useSeries(
  key: string,
  load: (from: number) => Promise<Sample[]>,
  wants: (batch: EventBatch) => boolean,
): { samples: Sample[]; error: ErrorInfo | undefined; loading: boolean } {
  const { hub } = useSession();
  const [samples, setSamples] = useState<Sample[]>([]);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const wantsRef = useRef(wants);
  wantsRef.current = wants;

  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` names what is loaded; the loader and filter are read through refs
  useEffect(() => {
    let live = true;
    let newest = 0;
    let busy = false;
    let again = false;
    setSamples([]);
    setLoading(true);
    const fetchNew = () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      const now = Date.now();
      const from = newest > 0 ? newest + 1 : now - WINDOW_MS;
      loadRef
        .current(from)
        .then((items) => {
          if (!live) return;
          setError(undefined);
          const fresh = items.filter((s) => s.ts > newest).sort((a, b) => a.ts - b.ts);
          if (fresh.length === 0) return;
          newest = fresh[fresh.length - 1]?.ts ?? newest;
          setSamples((old) => [...old.filter((s) => s.ts >= Date.now() - WINDOW_MS), ...fresh]);
        })
        .catch((err) => live && setError(toErrorInfo(err)))
        .finally(() => {
          busy = false;
          if (live) setLoading(false);
          if (live && again) {
            again = false;
            fetchNew();
          }
        });
    };
    fetchNew();
    const off = hub.subscribe((batch) => {
      if (batch.resync || wantsRef.current(batch)) fetchNew();
    });
    return () => {
      live = false;
      off();
    };
  }, [hub, key]);
  return { samples, error, loading };
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Per-second rates from cumulative byte counters (null where a counter went back, e.g. a restart). */
function rates(samples: readonly Sample[], field: string): (number | null)[] {
  return samples.map((s, i) => {
    const prev = samples[i - 1];
    const a = n(prev?.[field]);
    const b = n(s[field]);
    if (!prev || a === null || b === null || b < a || s.ts <= prev.ts) return null;
    return ((b - a) * 1000) / (s.ts - prev.ts);
  });
}

function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1048576) return `${(bytesPerSecond / 1048576).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1024) return `${(bytesPerSecond / 1024).toFixed(1)} KB/s`;
  return `${bytesPerSecond.toFixed(0)} B/s`;
}

const percent = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)}%`;
const kbAsMb = (v: number) => formatMb(v / 1024);

function Charts({
  what,
  samples,
  loading,
  error,
  children,
}: {
  what: string;
  samples: readonly Sample[];
  loading: boolean;
  error: ErrorInfo | undefined;
  children: React.ReactNode;
}) {
  if (error) return <ErrorAlert error={error} title="Cannot read monitoring" />;
  if (loading && samples.length === 0) return <Spinner aria-label="Loading monitoring" />;
  if (samples.length === 0) {
    return (
      <EmptyState titleText="No monitoring data yet" headingLevel="h2" variant="sm">
        <EmptyStateBody>
          Graphs of this {what} appear when its host's agent pushes monitoring data (nothing in the last hour).
        </EmptyStateBody>
      </EmptyState>
    );
  }
  return (
    <Grid hasGutter data-testid="monitoring-charts">
      {children}
    </Grid>
  );
}

export function VmMonitoringPanel({ vm }: { vm: ApiObject<'vm'> }) {
  const { client } = useSession();
  const { samples, error, loading } = useSeries(
    `vm:${vm.id}`,
    async (from) => (await client.vmMonitoring(vm.id, { from, limit: 2000 })).items as unknown as Sample[],
    (b) => b.monitoring.some((s) => s.id === vm.id) || b.events.some((e) => e.kind === 'vm' && e.id === vm.id),
  );
  const ts = useMemo(() => samples.map((s) => s.ts), [samples]);
  const cpu = useMemo(() => [{ label: 'CPU', color: '#0066cc', values: samples.map((s) => n(s.cpu)) }], [samples]);
  const mem = useMemo(
    () => [{ label: 'Memory', color: '#3e8635', values: samples.map((s) => n(s.memoryKb)) }],
    [samples],
  );
  const net = useMemo(
    () => [
      { label: 'rx', color: '#5e40be', values: rates(samples, 'netRxBytes') },
      { label: 'tx', color: '#ec7a08', values: rates(samples, 'netTxBytes') },
    ],
    [samples],
  );
  const disk = useMemo(
    () => [
      { label: 'read', color: '#009596', values: rates(samples, 'diskReadBytes') },
      { label: 'write', color: '#c9190b', values: rates(samples, 'diskWriteBytes') },
    ],
    [samples],
  );
  return (
    <Charts what="VM" samples={samples} loading={loading} error={error}>
      <GridItem md={6}>
        <TimeChart title="CPU (100% = one core)" ts={ts} series={cpu} unit={percent} testId="chart-cpu" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="Memory" ts={ts} series={mem} unit={kbAsMb} testId="chart-memory" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="Network" ts={ts} series={net} unit={formatRate} testId="chart-network" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="Disk I/O" ts={ts} series={disk} unit={formatRate} testId="chart-disk" />
      </GridItem>
    </Charts>
  );
}

export function HostMonitoringPanel({ host }: { host: ApiObject<'host'> }) {
  const { client } = useSession();
  const { samples, error, loading } = useSeries(
    `host:${host.id}`,
    async (from) =>
      (await client.hostMonitoring(host.id, { from, limit: 2000, kinds: ['host', 'datastore'] })).items as Sample[],
    (b) => b.events.some((e) => e.kind === 'host' && e.id === host.id),
  );
  const usage = useMemo(() => samples.filter((s) => s.kind === 'host'), [samples]);
  const ds = useMemo(() => samples.filter((s) => s.kind === 'datastore'), [samples]);
  const ts = useMemo(() => usage.map((s) => s.ts), [usage]);
  const dsTs = useMemo(() => ds.map((s) => s.ts), [ds]);
  const cpu = useMemo(
    () => [
      { label: 'used', color: '#0066cc', values: usage.map((s) => n(s.usedCpu)) },
      { label: 'total', color: '#8a8d90', values: usage.map((s) => n(s.totalCpu)) },
    ],
    [usage],
  );
  const mem = useMemo(
    () => [
      { label: 'used', color: '#3e8635', values: usage.map((s) => n(s.usedMemoryKb)) },
      { label: 'total', color: '#8a8d90', values: usage.map((s) => n(s.totalMemoryKb)) },
    ],
    [usage],
  );
  const net = useMemo(
    () => [
      { label: 'rx', color: '#5e40be', values: rates(usage, 'netRxBytes') },
      { label: 'tx', color: '#ec7a08', values: rates(usage, 'netTxBytes') },
    ],
    [usage],
  );
  const disk = useMemo(
    () => [
      { label: 'used', color: '#009596', values: ds.map((s) => n(s.usedMb)) },
      { label: 'total', color: '#8a8d90', values: ds.map((s) => n(s.totalMb)) },
    ],
    [ds],
  );
  return (
    <Charts what="host" samples={samples} loading={loading} error={error}>
      <GridItem md={6}>
        <TimeChart title="CPU (100 = one core)" ts={ts} series={cpu} unit={(v) => v.toFixed(0)} testId="chart-cpu" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="Memory" ts={ts} series={mem} unit={kbAsMb} testId="chart-memory" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="Network" ts={ts} series={net} unit={formatRate} testId="chart-network" />
      </GridItem>
      <GridItem md={6}>
        <TimeChart title="System datastore" ts={dsTs} series={disk} unit={formatMb} testId="chart-datastore" />
      </GridItem>
    </Charts>
  );
}
