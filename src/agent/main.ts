import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { isOneError, OneError } from '../core/errors.js';
import { CrunDriver } from '../drivers/runtime/crun-driver.js';
import { FirecrackerDriver } from '../drivers/runtime/firecracker-driver.js';
import { MockDriver } from '../drivers/runtime/mock-driver.js';
import { MockRuntimeWorld } from '../drivers/runtime/mock-world.js';
import { QemuDriver } from '../drivers/runtime/qemu-driver.js';
import type { RuntimeDriver } from '../drivers/runtime/types.js';
import { Channel } from './channel.js';
import { openConsole } from './console-bridge.js';
import { hostFacts } from './host-facts.js';
import { ImageCache } from './image-cache.js';
import { join as joinFrontEnd } from './join.js';
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
  guestKitDir?: string;
}

/** RuntimeHost time limits for microVM runtimes, ms (the rest are the defaults). */
const MICROVM_TIMEOUTS = { start: 90_000, reboot: 120_000, create: 120_000 };

const USAGE = `usage: oneedge agent [--join URL --token TOKEN --ca-hash SHA256] [--state-dir DIR]
                     [--runtimes crun,runc,qemu,firecracker,mock] [--guest-kit-dir DIR] [--log-level info]`;

function parseArgs(argv: string[]): AgentArgs {
  const args: AgentArgs = {
    stateDir: process.env.ONEEDGE_AGENT_STATE ?? '/var/lib/oneedge-agent',
    runtimes: ['crun', 'runc', 'qemu', 'firecracker'],
    logLevel: process.env.ONEEDGE_LOG_LEVEL ?? 'info',
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
    else if (flag === '--guest-kit-dir') args.guestKitDir = take();
    else throw new OneError('E_VALIDATION', `unknown option '${flag}'\n${USAGE}`);
  }
  if (args.join && (!args.token || !args.caHash)) {
    throw new OneError('E_VALIDATION', `--join needs --token and --ca-hash\n${USAGE}`);
  }
  return args;
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

  const registry = await WorkloadRegistry.open(args.stateDir);
  const outbox = await Outbox.open(args.stateDir);
  const images = new ImageCache(join(args.stateDir, 'images'), id, hostLog.child({ component: 'images' }));
  let channel: Channel | null = null;
  const executor = new PlanExecutor(args.stateDir, runtimes, registry, images, () => channel as Channel, hostLog);
  await executor.recoverAll();
  channel = new Channel(
    id,
    outbox,
    {
      facts: async () => ({
        ...(await hostFacts([...runtimes.keys()], unusable)),
        ...(kvm !== undefined ? { kvm } : {}),
      }),
      inventory: () => executor.inventory(),
      plan: (p) => executor.submit(p),
      readLog: (vmId, maxBytes) => executor.readLog(vmId, maxBytes),
      console: (sessionId, vmId) => {
        const socket = executor.vncSocket(vmId);
        const log = hostLog.child({ vmId, component: 'console' });
        if (socket) openConsole(id, sessionId, socket, log);
        else log.warn('console requested for a VM without a VNC console on this host');
      },
    },
    hostLog.child({ component: 'channel' }),
    { minBackoffMs: 500, maxBackoffMs: 30_000 },
  );
  executor.start();
  channel.start();

  const stop = (signal: string) => {
    hostLog.info({ signal }, 'stopping (workloads keep running)');
    channel?.stop();
    executor.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
