import { timingSafeEqual } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { OneError } from '../../core/errors.js';
import { HOST_STATE_LIST, HOST_STATES } from '../../core/host-states.js';
import { LCM_STATE_NAMES, VM_STATE_NAMES } from '../../core/vm-states.js';
import type { AppContext } from '../app.js';
import type { MonitorController } from './monitor-controller.js';

/** The Prometheus text exposition format, one family at a time. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Record<string, string> = {}): this {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`)
      .join(',');
    this.lines.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    return this;
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `GET /metrics` (Prometheus). Secure by default: it answers only a bearer
 * token equal to the configured scrape token (ONEEDGE_METRICS_TOKEN or
 * --metrics-token-file) or an oneadmin-group session token; anything else is
 * 401/403. It shows the front-end's own health (process CPU and memory,
 * event-loop delay, monitoring ingest and lag, database latency) and the
 * fleet's headline gauges (hosts and VMs by state, CPU and memory).
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  ctx: AppContext,
  monitorOf: () => MonitorController | null,
): void {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.addHook('onClose', async () => loop.disable());
  const startedAt = Date.now();

  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) {
      throw new OneError('E_UNAUTHENTICATED', '/metrics needs a bearer token: the scrape token or an admin session');
    }
    const token = header.slice(7).trim();
    if (!(ctx.config.metricsToken && sameSecret(token, ctx.config.metricsToken))) {
      const who = await ctx.sessions.authenticate(token);
      if (!who.admin) throw new OneError('E_FORBIDDEN', '/metrics is for administrators and the scrape token');
    }
    const monitor = monitorOf();
    const e = new Exposition();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    e.family('process_cpu_seconds_total', 'counter', 'CPU time of the front-end process (user + system)')
      .sample('process_cpu_seconds_total', (cpu.user + cpu.system) / 1e6)
      .family('process_resident_memory_bytes', 'gauge', 'resident set size')
      .sample('process_resident_memory_bytes', mem.rss)
      .family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use')
      .sample('nodejs_heap_used_bytes', mem.heapUsed)
      .family('process_uptime_seconds', 'gauge', 'seconds since the front-end started')
      .sample('process_uptime_seconds', (Date.now() - startedAt) / 1000)
      .family('nodejs_eventloop_delay_seconds', 'gauge', 'event-loop delay since the last scrape')
      .sample('nodejs_eventloop_delay_seconds', loop.mean / 1e9, { quantile: 'mean' })
      .sample('nodejs_eventloop_delay_seconds', loop.percentile(99) / 1e9, { quantile: '0.99' })
      .sample('nodejs_eventloop_delay_seconds', loop.max / 1e9, { quantile: 'max' });
    loop.reset();
    e.family('oneedge_db_ping_seconds', 'gauge', 'time of a trivial database query')
      .sample('oneedge_db_ping_seconds', (await ctx.store.monitoring.ping()) / 1000)
      .family('oneedge_agents_connected', 'gauge', 'open agent sessions')
      .sample('oneedge_agents_connected', ctx.agents?.gateway.connectedHosts().length ?? 0);
    const dials = ctx.agents?.gateway.connectStats;
    if (dials) {
      e.family('oneedge_agent_dials_total', 'counter', 'agent channel dials, by outcome (busy: 503, come back later)')
        .sample('oneedge_agent_dials_total', dials.accepted, { outcome: 'accepted' })
        .sample('oneedge_agent_dials_total', dials.busy, { outcome: 'busy' })
        .family('oneedge_agent_tls_resumed_total', 'counter', 'accepted dials whose TLS session was resumed')
        .sample('oneedge_agent_tls_resumed_total', dials.resumed);
    }
    if (monitor) {
      const s = monitor.stats;
      e.family('oneedge_monitor_frames_total', 'counter', 'monitor frames received from agents')
        .sample('oneedge_monitor_frames_total', s.frames)
        .family('oneedge_monitor_bytes_total', 'counter', 'compressed monitor payload bytes received')
        .sample('oneedge_monitor_bytes_total', s.bytes)
        .family('oneedge_monitor_records_total', 'counter', 'monitor records accepted')
        .sample('oneedge_monitor_records_total', s.records)
        .family('oneedge_monitor_dropped_total', 'counter', 'monitor records dropped, by reason')
        .sample('oneedge_monitor_dropped_total', s.stale, { reason: 'stale' })
        .sample('oneedge_monitor_dropped_total', s.malformed, { reason: 'malformed' })
        .sample('oneedge_monitor_dropped_total', s.refused, { reason: 'not_own_vm' })
        .family('oneedge_monitor_rows_written_total', 'counter', 'time-series rows written')
        .sample('oneedge_monitor_rows_written_total', s.rowsWritten)
        .family('oneedge_monitor_flush_seconds_total', 'counter', 'time spent in ingest ticks')
        .sample('oneedge_monitor_flush_seconds_total', s.flushMsTotal / 1000)
        .family('oneedge_monitor_ingest_lag_seconds', 'gauge', 'agent stamp to committed row')
        .sample('oneedge_monitor_ingest_lag_seconds', s.lastLagMs / 1000, { quantile: 'last_tick_max' })
        .sample('oneedge_monitor_ingest_lag_seconds', s.maxLagMs / 1000, { quantile: 'max' })
        .sample('oneedge_monitor_ingest_lag_seconds', s.lagSamples ? s.lagMsTotal / s.lagSamples / 1000 : 0, {
          quantile: 'mean',
        })
        .family('oneedge_monitor_backlog', 'gauge', 'records and frames waiting to be written')
        .sample('oneedge_monitor_backlog', monitor.backlog())
        .family('oneedge_host_errors_total', 'counter', 'hosts that went ERROR after falling silent')
        .sample('oneedge_host_errors_total', s.hostErrors);
    }
    const fleet = await ctx.store.monitoring.fleet();
    e.family('oneedge_hosts', 'gauge', 'hosts by state');
    for (const name of HOST_STATE_LIST)
      e.sample('oneedge_hosts', fleet.hosts.get(HOST_STATES[name]) ?? 0, { state: name });
    e.family('oneedge_vms', 'gauge', 'VMs (not DONE) by state and LCM state');
    for (const v of fleet.vms) {
      e.sample('oneedge_vms', v.n, {
        state: VM_STATE_NAMES[v.state] ?? String(v.state),
        lcm_state: LCM_STATE_NAMES[v.lcm] ?? String(v.lcm),
      });
    }
    const usage = monitor?.fleetUsage();
    if (usage) {
      e.family('oneedge_fleet_cpu', 'gauge', 'CPU of the monitored hosts (100 = one core)')
        .sample('oneedge_fleet_cpu', usage.totalCpu, { kind: 'total' })
        .sample('oneedge_fleet_cpu', usage.usedCpu, { kind: 'used' })
        .family('oneedge_fleet_memory_bytes', 'gauge', 'memory of the monitored hosts')
        .sample('oneedge_fleet_memory_bytes', usage.totalMemoryKb * 1024, { kind: 'total' })
        .sample('oneedge_fleet_memory_bytes', usage.usedMemoryKb * 1024, { kind: 'used' });
    }
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(e.text());
  });
}
