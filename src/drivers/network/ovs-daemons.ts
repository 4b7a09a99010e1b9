/**
 * The Open vSwitch daemons an `ovswitch` network needs: ovsdb-server and
 * ovs-vswitchd. Edge hosts here have no systemd and no OVS kernel module, so
 * by default the agent runs its own pair in its state directory (database,
 * unix sockets, pid files and logs under `runDir`), inside the host's network
 * namespace, and bridges use the userspace datapath (`datapath_type=netdev`).
 * Several agents on one machine (namespace hosts) each get their own pair.
 * Daemons found running from an earlier agent (by their pid files) are
 * re-used, so workloads keep their network across agent restarts. A system
 * OVS is used instead when one answers and runs in this network namespace.
 *
 * Modes: `auto` (system OVS when usable, else own daemons), `own`, `system`, `off`.
 *
 * DPDK (`dpdk: 'auto'`): when the DPDK build of ovs-vswitchd, its ring mempool
 * driver and enough free hugepages are there as the own daemons start, that
 * binary runs instead, with `dpdk-init=try` (vhost-user.ts), so microVM NICs
 * can be vhost-user ports. The same switch still serves veth and tap ports.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CommandError, runCommand, sleep } from '../runtime/exec.js';
import type { ProbeResult } from '../runtime/types.js';
import { probeName } from './ip-tools.js';
import { DPDK_VSWITCHD, dpdkOtherConfig, vhostUserPrerequisites } from './vhost-user.js';

export const OVS_MODES = ['auto', 'own', 'system', 'off'] as const;
export type OvsMode = (typeof OVS_MODES)[number];
export const OVS_DPDK_MODES = ['auto', 'off'] as const;
export type OvsDpdkMode = (typeof OVS_DPDK_MODES)[number];

/** The system OVS database socket of the Debian package. */
export const SYSTEM_OVS_DB = 'unix:/var/run/openvswitch/db.sock';
const SYSTEM_VSWITCHD_PID = '/var/run/openvswitch/ovs-vswitchd.pid';
const SCHEMAS = ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema'];
/** sun_path is 108 bytes; OVS adds `<bridge>.mgmt` names in the run directory. */
const MAX_SOCKET_PATH = 100;

export interface OvsDaemonOptions {
  mode?: OvsMode;
  /** Where the agent's own daemons keep their database, sockets, pid files and logs. */
  runDir: string;
  /** The system OVS database (`unix:PATH`), for modes auto and system. */
  systemDb?: string;
  /** Run the daemons in this named network namespace (tests); default: the caller's. */
  netns?: string;
  /** Own daemons: run the DPDK build of ovs-vswitchd when the host can (auto), or never (off, the default). */
  dpdk?: OvsDpdkMode;
  /** The DPDK build of ovs-vswitchd (default: Debian's path). */
  dpdkVswitchd?: string;
}

type Daemon = 'ovsdb-server' | 'ovs-vswitchd';

/** Starts, finds, re-uses and stops the OVS daemons of one host. */
export class OvsDaemons {
  readonly mode: OvsMode;
  readonly runDir: string;
  private readonly systemDb: string;
  private readonly netns: string | undefined;
  /** The database the driver talks to, once chosen. */
  private db: string | undefined;
  private own = false;
  private starting: Promise<'started' | 'running'> | undefined;
  readonly dpdk: OvsDpdkMode;
  private readonly dpdkVswitchd: string;
  /** Why the own vswitchd was started without DPDK (when dpdk is auto). */
  private noDpdk: string | undefined;

  constructor(options: OvsDaemonOptions) {
    this.mode = options.mode ?? 'auto';
    this.runDir = options.runDir;
    this.systemDb = options.systemDb ?? SYSTEM_OVS_DB;
    this.netns = options.netns;
    this.dpdk = options.dpdk ?? 'off';
    this.dpdkVswitchd = options.dpdkVswitchd ?? DPDK_VSWITCHD;
  }

  /** Whether the daemons in use are this host's own (so the agent may stop them). */
  get owned(): boolean {
    return this.own;
  }

  get ownDb(): string {
    return `unix:${join(this.runDir, 'db.sock')}`;
  }

  /**
   * The quick check an agent does at start-up: the binaries, the schema and
   * /dev/net/tun (the userspace datapath's bridge ports are taps) are there,
   * and in mode system the system OVS answers. It starts nothing; probe() is
   * the full check.
   */
  async prerequisites(signal: AbortSignal): Promise<ProbeResult> {
    if (this.mode === 'off') return { usable: false, reason: 'Open vSwitch is disabled (--ovs off)' };
    // Looked up on PATH, not run: an agent start must stay quick (four spawns took 0.4-0.8 s on a loaded host).
    const missing: string[] = [];
    for (const bin of ['ovs-vsctl', 'ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd']) {
      if (!(await onPath(bin))) missing.push(bin);
    }
    if (missing.length > 0) {
      return { usable: false, reason: `${missing.join(', ')} not installed (Debian package openvswitch-switch)` };
    }
    if (this.mode === 'system') {
      const why = await this.systemUnusable(signal);
      if (why) return { usable: false, reason: why };
    } else {
      if (!(await firstExisting(SCHEMAS)))
        return { usable: false, reason: `the OVS schema is missing (${SCHEMAS[0]})` };
      if (!(await exists('/dev/net/tun'))) return { usable: false, reason: '/dev/net/tun is missing (tap devices)' };
    }
    return { usable: true };
  }

  /**
   * Whether OVS works here: daemons up (started for the probe if needed) and a
   * userspace-datapath bridge can be made. Own daemons started only for the
   * probe are stopped again; they start for real when a network needs them.
   */
  async probe(signal: AbortSignal): Promise<ProbeResult> {
    if (this.mode === 'off') return { usable: false, reason: 'Open vSwitch is disabled (--ovs off)' };
    const version = await runCommand(['ovs-vsctl', '--version'], signal).then(
      (r) => /\d+\.\d+\.\d+/.exec(r.stdout)?.[0] ?? 'unknown',
      () => undefined,
    );
    if (!version) return { usable: false, reason: 'ovs-vsctl is not installed (Debian package openvswitch-switch)' };
    let how: 'started' | 'running';
    try {
      how = await this.ready(signal);
    } catch (err) {
      return { usable: false, reason: `cannot run the Open vSwitch daemons: ${message(err)}` };
    }
    const br = probeName('oeovsp');
    try {
      await this.vsctl(['add-br', br, '--', 'set', 'Bridge', br, 'datapath_type=netdev'], signal);
      return { usable: true, version };
    } catch (err) {
      return { usable: false, reason: `cannot create a userspace-datapath OVS bridge: ${message(err)}` };
    } finally {
      await this.vsctl(['--if-exists', 'del-br', br], signal).catch(() => undefined);
      if (how === 'started' && this.own) await this.stop(signal).catch(() => undefined);
    }
  }

  /**
   * Makes sure the daemons answer: the system OVS (modes system and auto), or
   * this host's own pair, re-used when already running, else started.
   */
  ready(signal: AbortSignal): Promise<'started' | 'running'> {
    this.starting ??= this.bringUp(signal).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Whether ready() has succeeded once (a later failure is an incident, not a missing capability). */
  runningOnce = false;
  /** Why the daemons could not be brought up, the last time they could not. */
  startError: string | undefined;

  private async bringUp(signal: AbortSignal): Promise<'started' | 'running'> {
    try {
      const how = await this.bringUpOnce(signal);
      this.runningOnce = true;
      this.startError = undefined;
      return how;
    } catch (err) {
      this.startError = message(err);
      throw err;
    }
  }

  private async bringUpOnce(signal: AbortSignal): Promise<'started' | 'running'> {
    if (this.mode === 'off') throw new Error('Open vSwitch is disabled (--ovs off)');
    if (this.mode !== 'own') {
      const why = await this.systemUnusable(signal);
      if (!why) {
        this.db = this.systemDb;
        this.own = false;
        return 'running';
      }
      if (this.mode === 'system') throw new Error(why);
    }
    this.db = this.ownDb;
    this.own = true;
    return this.startOwn(signal);
  }

  /** Why the system OVS cannot serve this host, or undefined when it can. */
  private async systemUnusable(signal: AbortSignal): Promise<string | undefined> {
    const db = this.systemDb;
    const raw = ['ovs-vsctl', `--db=${db}`, '--timeout=3'];
    try {
      await runCommand([...raw, 'show'], signal);
    } catch (err) {
      return `no system Open vSwitch answers at ${db}: ${message(err)}`;
    }
    // A vswitchd in another network namespace cannot see this host's interfaces.
    if (db === SYSTEM_OVS_DB) {
      const pid = await readPid(SYSTEM_VSWITCHD_PID);
      if (!pid || !(await alive(pid))) return 'the system ovs-vswitchd is not running';
      if ((await netnsId(`/proc/${pid}/ns/net`)) !== (await this.netnsId())) {
        return 'the system ovs-vswitchd runs in another network namespace';
      }
    }
    const tso = await runCommand([...raw, 'get', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable'], signal)
      .then((r) => r.stdout.trim().replace(/"/g, ''))
      .catch(() => '');
    if (tso !== 'true') {
      // Without it TCP between veth ports of a netdev bridge fails (measured; see docs/networks.md).
      return 'the system Open vSwitch lacks other_config:userspace-tso-enable=true (needed for TCP over veth ports with the userspace datapath)';
    }
    return undefined;
  }

  private async startOwn(signal: AbortSignal): Promise<'started' | 'running'> {
    const dir = this.runDir;
    if (join(dir, 'ovs-vswitchd.ctl').length > MAX_SOCKET_PATH) {
      throw new Error(`the OVS run directory ${dir} is too long for unix sockets (max ${MAX_SOCKET_PATH - 17} bytes)`);
    }
    if ((await this.ownPid('ovsdb-server')) && (await this.ownPid('ovs-vswitchd'))) return 'running';
    let started = false;
    if (!(await this.ownPid('ovsdb-server'))) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await this.prepareDb(signal);
      await rm(join(dir, 'db.sock'), { force: true });
      await this.daemon('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`], signal);
      started = true;
    }
    const base = ['ovs-vsctl', `--db=${this.ownDb}`, '--timeout=10', '--no-wait'];
    await runCommand([...base, 'init'], signal);
    // Must be set before vswitchd starts: TCP over veth ports with the netdev datapath needs it.
    await runCommand([...base, 'set', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true'], signal);
    if (!(await this.ownPid('ovs-vswitchd'))) {
      const dpdk = await this.dpdkChoice();
      this.noDpdk = dpdk.usable ? undefined : dpdk.reason;
      if (dpdk.usable) await runCommand([...base, 'set', 'Open_vSwitch', '.', ...dpdkOtherConfig()], signal);
      else await runCommand([...base, 'remove', 'Open_vSwitch', '.', 'other_config', 'dpdk-init'], signal);
      await this.daemon('ovs-vswitchd', [this.ownDb], signal, dpdk.usable ? this.dpdkVswitchd : undefined);
      started = true;
    }
    return started ? 'started' : 'running';
  }

  private async dpdkChoice(): Promise<ProbeResult> {
    if (this.dpdk === 'off') return { usable: false, reason: 'DPDK is disabled (--ovs-dpdk off)' };
    return vhostUserPrerequisites({ vswitchd: this.dpdkVswitchd });
  }

  /**
   * Whether microVM NICs can be vhost-user ports here: the switch in use runs
   * with DPDK initialised (asked from its database), or — before the agent
   * has started its own daemons — they would start with DPDK. Quick: a few
   * file reads and at most two ovs-vsctl calls.
   */
  async vhostUser(signal: AbortSignal): Promise<ProbeResult> {
    if (this.mode === 'off') return { usable: false, reason: 'Open vSwitch is disabled (--ovs off)' };
    const initialised = (db: string) =>
      runCommand(['ovs-vsctl', `--db=${db}`, '--timeout=3', 'get', 'Open_vSwitch', '.', 'dpdk_initialized'], signal)
        .then((r) => r.stdout.trim() === 'true')
        .catch(() => false);
    let db = this.db;
    if (!db && this.mode !== 'own' && !(await this.systemUnusable(signal))) db = this.systemDb;
    if (!db && (await this.ownPid('ovs-vswitchd'))) db = this.ownDb;
    if (db) {
      if (await initialised(db)) return { usable: true };
      if (db !== this.ownDb) {
        return { usable: false, reason: 'the system Open vSwitch runs without DPDK (other_config:dpdk-init)' };
      }
      return {
        usable: false,
        reason: this.noDpdk
          ? `ovs-vswitchd was started without DPDK: ${this.noDpdk}`
          : `ovs-vswitchd runs without DPDK initialised (see ${join(this.runDir, 'ovs-vswitchd.log')})`,
      };
    }
    if (this.mode === 'system') return { usable: false, reason: 'no system Open vSwitch answers' };
    return this.dpdkChoice();
  }

  /** Creates the database, or converts it after an OVS upgrade. */
  private async prepareDb(signal: AbortSignal): Promise<void> {
    const dbFile = join(this.runDir, 'conf.db');
    const schema = await firstExisting(SCHEMAS);
    if (!schema) throw new Error(`the OVS schema is missing (looked in ${SCHEMAS.join(', ')})`);
    if (!(await exists(dbFile))) {
      await runCommand(['ovsdb-tool', 'create', dbFile, schema], signal);
      return;
    }
    const needs = await runCommand(['ovsdb-tool', 'needs-conversion', dbFile, schema], signal);
    if (needs.stdout.trim() === 'yes') await runCommand(['ovsdb-tool', 'convert', dbFile, schema], signal);
  }

  /** Runs a daemon detached in the host's namespace; returns once it is ready (OVS's --detach contract). */
  private async daemon(name: Daemon, args: string[], signal: AbortSignal, binary: string = name): Promise<void> {
    const dir = this.runDir;
    const argv = [
      ...(this.netns ? ['nsenter', `--net=/run/netns/${this.netns}`, '--'] : []),
      'env',
      `OVS_RUNDIR=${dir}`,
      `OVS_LOGDIR=${dir}`,
      `OVS_DBDIR=${dir}`,
      binary,
      ...args,
      `--pidfile=${join(dir, `${name}.pid`)}`,
      `--unixctl=${join(dir, `${name}.ctl`)}`,
      `--log-file=${join(dir, `${name}.log`)}`,
      '--detach',
      '--no-chdir',
    ];
    await rm(join(dir, `${name}.pid`), { force: true });
    await runCommand(argv, signal);
  }

  /** The pid of this host's own daemon when it is running (checked against its command line). */
  private async ownPid(name: Daemon): Promise<number | undefined> {
    const pid = await readPid(join(this.runDir, `${name}.pid`));
    if (!pid || !(await alive(pid))) return undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    // argv[0] is the name, or the DPDK build's full path (ovs-vswitchd-dpdk).
    const argv0 = basename(cmdline.split('\0')[0] ?? '');
    return argv0.startsWith(name) && cmdline.includes(this.runDir) ? pid : undefined;
  }

  /** `ovs-vsctl` against the database in use (starting nothing). Argv only. */
  async vsctl(args: readonly string[], signal: AbortSignal): Promise<string> {
    const db = this.db ?? (this.mode === 'system' ? this.systemDb : this.ownDb);
    return (await runCommand(['ovs-vsctl', `--db=${db}`, '--timeout=15', ...args], signal)).stdout;
  }

  /** Stops this host's own daemons (never a system OVS). Idempotent. */
  async stop(signal: AbortSignal): Promise<void> {
    if (!this.own) return;
    for (const name of ['ovs-vswitchd', 'ovsdb-server'] as const) {
      const pid = await this.ownPid(name);
      if (!pid) continue;
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && (await alive(pid)); i++) await sleep(100, signal);
      if (await alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }

  /** Pids of this host's own daemons that run now (diagnostics and tests). */
  async pids(): Promise<Partial<Record<Daemon, number>>> {
    const out: Partial<Record<Daemon, number>> = {};
    for (const name of ['ovsdb-server', 'ovs-vswitchd'] as const) {
      const pid = await this.ownPid(name);
      if (pid) out[name] = pid;
    }
    return out;
  }

  private netnsId(): Promise<string> {
    return netnsId(this.netns ? `/run/netns/${this.netns}` : '/proc/self/ns/net');
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const n = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Running and not a zombie. */
async function alive(pid: number): Promise<boolean> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return s !== '' && !/^\d+ \(.*\) [ZX] /.test(s);
}

/** A namespace's identity: device and inode of its nsfs file (a /proc link or a bind mount). */
async function netnsId(path: string): Promise<string> {
  const link = await readlink(path).catch(() => undefined);
  if (link) return link.replace(/^net:\[(\d+)\]$/, '$1');
  const s = await stat(path);
  return String(s.ino);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Whether an executable of that name is on PATH (or in the sbin folders daemons live in). */
async function onPath(bin: string): Promise<boolean> {
  const dirs = new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin']);
  for (const d of dirs) {
    if (
      await access(join(d, bin), constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) if (await exists(p)) return p;
  return undefined;
}

function message(err: unknown): string {
  return err instanceof CommandError || err instanceof Error ? err.message : String(err);
}
