import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { isOneError, OneError } from '../core/errors.js';
import { type ProbePeriods, parseProbePeriods, VM_MISSING_RUNS_DEFAULT } from '../core/monitoring.js';
import { OVS_DPDK_MODES, OVS_MODES, type OvsDpdkMode, type OvsMode } from '../drivers/network/ovs-daemons.js';
import { CrunDriver } from '../drivers/runtime/crun-driver.js';
import { FirecrackerDriver } from '../drivers/runtime/firecracker-driver.js';
import { MockDriver } from '../drivers/runtime/mock-driver.js';
import { MockRuntimeWorld } from '../drivers/runtime/mock-world.js';
import { QemuDriver } from '../drivers/runtime/qemu-driver.js';
import type { RuntimeDriver } from '../drivers/runtime/types.js';
import { Channel } from './channel.js';
import { openConsole } from './console-bridge.js';
import { DiskManager } from './disks.js';
import { hostFacts } from './host-facts.js';
import { ImageCache } from './image-cache.js';
import { join as joinFrontEnd } from './join.js';
import { LogFollowers } from './log-follower.js';
import { AgentMonitor } from './monitoring/monitor.js';
import { NetworkHost } from './network-host.js';
import { Outbox } from './outbox.js';
import { PlanExecutor } from './plan-executor.js';
import { RuntimeHost } from './runtime-host.js';
import { type AgentIdentity, cgroupParentFor, identityPath, readJsonFile, writeAtomic } from './state-files.js';
import { WorkloadRegistry } from './workload-registry.js';

interface AgentArgs {
  join?: string;
  token?: string;
  caHash?: string;
  stateDir: string;
  runtimes: string[];
  logLevel: string;
  /** Image cache size limit, MB (0 = none). */
  imageCacheMb: number;
  /** Drop and resume an image transfer that receives nothing for this long, seconds. */
  imageStallSeconds: number;
  probePeriods: ProbePeriods;
  probesDir?: string;
  probeTimeoutS: number;
  vmMissingRuns: number;
  guestKitDir?: string;
  /** Open vSwitch for ovswitch networks: auto, own, system or off; and the system OVS database. */
  ovs: OvsMode;
  ovsDb?: string;
  /** The own ovs-vswitchd with DPDK (vhost-user microVM NICs) when the host can: auto, or off. */
  ovsDpdk: OvsDpdkMode;
}

/** RuntimeHost time limits for microVM runtimes, ms (the rest are the defaults). */
const MICROVM_TIMEOUTS = { start: 90_000, reboot: 120_000, create: 120_000 };

const USAGE = `usage: oneedge agent [--join URL --token TOKEN --ca-hash SHA256] [--state-dir DIR]
                     [--runtimes crun,runc,qemu,firecracker,mock] [--guest-kit-dir DIR] [--log-level info]
                     [--image-cache-mb MB] [--image-stall-timeout SECONDS]
                     [--probe-periods beacon=30,system=600,host=120,datastore=120,vm-state=5,vm-sync=180,vm-usage=30]
                     [--probes-dir DIR (default <state-dir>/probes.d)] [--probe-timeout 15] [--vm-missing-runs 5]
                     [--ovs auto|own|system|off] [--ovs-db unix:/var/run/openvswitch/db.sock] [--ovs-dpdk auto|off]`;

function parseArgs(argv: string[]): AgentArgs {
  const args: AgentArgs = {
    stateDir: process.env.ONEEDGE_AGENT_STATE ?? '/var/lib/oneedge-agent',
    runtimes: ['crun', 'runc', 'qemu', 'firecracker'],
    logLevel: process.env.ONEEDGE_LOG_LEVEL ?? 'info',
    imageCacheMb: 0,
    imageStallSeconds: 30,
    probePeriods: periods(process.env.ONEEDGE_PROBE_PERIODS ?? ''),
    ...(process.env.ONEEDGE_PROBES_DIR ? { probesDir: process.env.ONEEDGE_PROBES_DIR } : {}),
    probeTimeoutS: positive('ONEEDGE_PROBE_TIMEOUT', process.env.ONEEDGE_PROBE_TIMEOUT ?? '15'),
    ovs: 'auto',
    ovsDpdk: 'auto',
    vmMissingRuns: positive(
      'ONEEDGE_VM_MISSING_RUNS',
      process.env.ONEEDGE_VM_MISSING_RUNS ?? String(VM_MISSING_RUNS_DEFAULT),
    ),
  };
  const count = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new OneError('E_VALIDATION', `${flag} must be a whole number, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const take = () => {
      if (value === undefined) throw new OneError('E_VALIDATION', `${flag} needs a value\n${USAGE}`);
      i++;
      return value;
    };
    if (flag === '--join') args.join = take();
    else if (flag === '--token') args.token = take();
    else if (flag === '--ca-hash') args.caHash = take();
    else if (flag === '--state-dir') args.stateDir = take();
    else if (flag === '--runtimes') args.runtimes = take().split(',').filter(Boolean);
    else if (flag === '--log-level') args.logLevel = take();
    else if (flag === '--image-cache-mb') args.imageCacheMb = count(flag, take());
    else if (flag === '--image-stall-timeout') args.imageStallSeconds = Math.max(1, count(flag, take()));
    else if (flag === '--probe-periods') args.probePeriods = periods(take(), args.probePeriods);
    else if (flag === '--probes-dir') args.probesDir = take();
    else if (flag === '--probe-timeout') args.probeTimeoutS = positive(flag, take());
    else if (flag === '--vm-missing-runs') args.vmMissingRuns = Math.ceil(positive(flag, take()));
    else if (flag === '--guest-kit-dir') args.guestKitDir = take();
    else if (flag === '--ovs') args.ovs = ovsMode(take());
    else if (flag === '--ovs-db') args.ovsDb = take();
    else if (flag === '--ovs-dpdk') args.ovsDpdk = oneOf(flag, OVS_DPDK_MODES, take());
    else throw new OneError('E_VALIDATION', `unknown option '${flag}'\n${USAGE}`);
  }
  if (args.join && (!args.token || !args.caHash)) {
    throw new OneError('E_VALIDATION', `--join needs --token and --ca-hash\n${USAGE}`);
  }
  return args;
}

function ovsMode(text: string): OvsMode {
  if ((OVS_MODES as readonly string[]).includes(text)) return text as OvsMode;
  throw new OneError('E_VALIDATION', `--ovs must be one of ${OVS_MODES.join(', ')}, got '${text}'`);
}

function oneOf<T extends string>(flag: string, allowed: readonly T[], text: string): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new OneError('E_VALIDATION', `${flag} must be one of ${allowed.join(', ')}, got '${text}'`);
}

function periods(text: string, base?: ProbePeriods): ProbePeriods {
  try {
    return parseProbePeriods(text, base);
  } catch (err) {
    throw new OneError('E_VALIDATION', `--probe-periods: ${(err as Error).message}`);
  }
}

function positive(what: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new OneError('E_VALIDATION', `${what} must be a positive number, got '${text}'`);
  return n;
}

function makeDriver(args: AgentArgs, name: string, identity: AgentIdentity): RuntimeDriver | undefined {
  const stateDir = args.stateDir;
  const common = { stateRoot: join(stateDir, 'runtime', name), cgroupParent: cgroupParentFor(identity) };
  if (name === 'qemu') {
    return new QemuDriver({
      stateRoot: common.stateRoot,
      ...(args.guestKitDir ? { guestKitDir: args.guestKitDir } : {}),
    });
  }
  if (name === 'crun') return new CrunDriver({ ...common, flavour: 'crun' });
  if (name === 'runc') return new CrunDriver({ ...common, flavour: 'runc' });
  if (name === 'firecracker') {
    return new FirecrackerDriver({
      stateRoot: common.stateRoot,
      ...(args.guestKitDir ? { guestKitDir: args.guestKitDir } : {}),
    });
  }
  if (name === 'mock') return new MockDriver({ world: new MockRuntimeWorld() });
  return undefined;
}

/**
 * `oneedge agent`: the edge-host daemon. With --join it first trades a join
 * token for this host's credential (pinning the front-end's CA by hash) and
 * stores it in <state-dir>/agent.json (0600); every later start reuses it.
 */
export async function main(argv: string[]): Promise<void> {
  let args: AgentArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`oneedge agent: ${isOneError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = pino({ level: args.logLevel, base: { service: 'oneedge-agent' } });
  mkdirSync(args.stateDir, { recursive: true, mode: 0o700 });
  let identity = await readJsonFile<AgentIdentity>(identityPath(args.stateDir));
  if (args.join && args.token && args.caHash) {
    try {
      identity = await joinFrontEnd(args.join, args.token, args.caHash);
    } catch (err) {
      log.error({ code: isOneError(err) ? err.code : 'E_INTERNAL', err: String(err) }, 'join failed');
      process.stderr.write(`oneedge agent: join failed: ${isOneError(err) ? err.message : String(err)}\n`);
      process.exit(3);
    }
    await writeAtomic(identityPath(args.stateDir), JSON.stringify(identity, null, 2));
    log.info({ hostId: identity.hostId, host: identity.hostName, url: identity.url }, 'joined the front-end');
  }
  if (!identity) {
    process.stderr.write(`oneedge agent: not joined yet: run oneedge agent --join URL --token T --ca-hash H\n`);
    process.exit(2);
  }
  const id = identity;
  const hostLog = log.child({ hostId: id.hostId });

  const runtimes = new Map<string, RuntimeDriver>();
  const unusable: Record<string, string> = {};
  for (const name of args.runtimes) {
    const driver = makeDriver(args, name, id);
    if (!driver) {
      unusable[name] = 'unknown runtime';
      continue;
    }
    // A microVM's start waits for its guest to boot (seconds under software emulation, more when
    // several boot at once on few cores): give start and reboot room beyond the container defaults.
    const timeouts = driver.capabilities.kind === 'microvm' ? { timeouts: MICROVM_TIMEOUTS } : {};
    const host = new RuntimeHost(driver, hostLog.child({ runtime: name }), timeouts);
    const probe = await host
      .probe(AbortSignal.timeout(60_000))
      .catch((err: unknown) => ({ usable: false, reason: String(err) }));
    if (probe.usable) runtimes.set(name, host);
    else unusable[name] = probe.reason ?? 'probe failed';
  }
  // KVM is reported only when the qemu probe really booted a KVM guest.
  let kvm: boolean | undefined;
  const qemuHost = runtimes.get('qemu') as RuntimeHost | undefined;
  if (qemuHost?.driver instanceof QemuDriver) {
    const details = await qemuHost.driver.probeDetails(AbortSignal.timeout(60_000)).catch(() => undefined);
    kvm = details?.kvm === true;
    if (!kvm && details?.kvmReason) unusable.kvm = details.kvmReason;
  }
  hostLog.info({ runtimes: [...runtimes.keys()], unusable, kvm }, 'runtimes probed');

  mkdirSync(join(args.stateDir, 'network'), { recursive: true, mode: 0o700 });
  const network = new NetworkHost(
    `oe${id.caHash.slice(0, 8)}h${id.hostId}`,
    join(args.stateDir, 'network'),
    hostLog.child({ component: 'network' }),
    { ovs: { mode: args.ovs, dpdk: args.ovsDpdk, ...(args.ovsDb ? { systemDb: args.ovsDb } : {}) } },
  );
  await network.probe(AbortSignal.timeout(30_000));

  const registry = await WorkloadRegistry.open(args.stateDir);
  const outbox = await Outbox.open(args.stateDir);
  let executor: PlanExecutor | null = null;
  const images = new ImageCache(join(args.stateDir, 'images'), id, hostLog.child({ component: 'images' }), {
    limitBytes: args.imageCacheMb * 1024 * 1024,
    stallMs: args.imageStallSeconds * 1000,
    inUse: () => executor?.imagesInUse() ?? new Set(),
  });
  const disks = new DiskManager(images, id, hostLog.child({ component: 'disks' }));
  let channel: Channel | null = null;
  const planExecutor = new PlanExecutor(
    args.stateDir,
    runtimes,
    registry,
    images,
    () => channel as Channel,
    hostLog,
    network,
    disks,
  );
  executor = planExecutor;
  await planExecutor.recoverAll();
  const facts = async () => {
    // vhost-user NICs: a DPDK-enabled switch runs here, or would start (binary, mempool driver, free hugepages).
    const vhost = await network
      .vhostUser(AbortSignal.timeout(10_000))
      .catch((err: unknown) => ({ usable: false, reason: String(err) }));
    return {
      ...(await hostFacts([...runtimes.keys()], unusable, args.stateDir)),
      ...(network.localAddress ? { address: network.localAddress } : {}),
      networkDrivers: network.names(),
      networkUnusable: vhost.usable
        ? network.unusable
        : { ...network.unusable, 'vhost-user': vhost.reason ?? 'unusable' },
      vhostUser: vhost.usable,
      ...(kvm !== undefined ? { kvm } : {}),
    };
  };
  const follows = new LogFollowers(
    (vmId) => planExecutor.logPath(vmId),
    (msg) => channel?.sendLive(msg) ?? false,
    hostLog.child({ component: 'logs' }),
  );
  channel = new Channel(
    id,
    outbox,
    {
      facts,
      localAddress: (address) => {
        network.localAddress = address;
      },
      nicRules: (msg) => void planExecutor.applyNicRules(msg.vmId, msg.nics),
      netPeers: (msg) =>
        void network
          .updatePeers(msg.networkId, msg.peers, AbortSignal.timeout(30_000))
          .catch((err: unknown) => hostLog.warn({ err: String(err), networkId: msg.networkId }, 'peer update failed')),
      inventory: () => planExecutor.inventory(),
      plan: (p) => planExecutor.submit(p),
      readLog: (vmId, maxBytes) => planExecutor.readLog(vmId, maxBytes),
      saveDisk: (m) => planExecutor.saveDisk(m),
      linkUp: () => monitor.linkUp(),
      logFollow: (msg) => {
        if (msg.t === 'log-follow') follows.start(msg);
        else if (msg.t === 'log-credit') follows.credit(msg);
        else follows.stop(msg.streamId);
      },
      linkDown: () => follows.stopAll('the channel dropped'),
      console: (sessionId, vmId) => {
        const socket = planExecutor.vncSocket(vmId);
        const log = hostLog.child({ vmId, component: 'console' });
        if (socket) openConsole(id, sessionId, socket, log);
        else log.warn('console requested for a VM without a VNC console on this host');
      },
    },
    hostLog.child({ component: 'channel' }),
    { minBackoffMs: 500, maxBackoffMs: 30_000 },
  );
  const monitor = new AgentMonitor(
    {
      periods: args.probePeriods,
      probesDir: args.probesDir ?? join(args.stateDir, 'probes.d'),
      probeTimeoutMs: args.probeTimeoutS * 1000,
      missingRuns: args.vmMissingRuns,
      stateDir: args.stateDir,
      batchMs: 200,
    },
    facts,
    availableParallelism(),
    {
      records: () => registry.all(),
      runtimes,
      busy: (vmId) => planExecutor.busy(vmId),
    },
    (z) => channel?.sendMonitor(z) ?? false,
    hostLog.child({ component: 'monitor' }),
  );
  hostLog.info({ periods: args.probePeriods }, 'probe periods (s)');
  planExecutor.start();
  channel.start();
  monitor.start();

  const stop = (signal: string) => {
    hostLog.info({ signal }, 'stopping (workloads keep running)');
    monitor.stop();
    channel?.stop();
    planExecutor.stop();
    void network
      .shutdown(AbortSignal.timeout(10_000))
      .catch((err: unknown) => hostLog.warn({ err: String(err) }, 'network shutdown failed'))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
