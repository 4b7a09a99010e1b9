import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { cgroupParentFor } from '../../src/agent/state-files.js';
import type { Api } from './api.js';
import type { NetnsHost, NetnsLab } from './netns-hosts.js';
import { BIN, type TestServer } from './server.js';

const run = promisify(execFile);

/**
 * An agent process on this machine dialling the front-end over loopback:
 * the in-memory runtime by default (channel and lifecycle tests), or crun.
 */
export class LoopbackAgent {
  child: ChildProcess | null = null;
  readonly stateDir = mkdtempSync(join(tmpdir(), 'oneedge-agent-lo-'));
  output = '';

  constructor(
    readonly runtimes = 'mock',
    readonly extraArgs: string[] = [],
  ) {}

  /** Creates the host, issues a join token and starts the agent with it; returns the host id. */
  async join(api: Api, server: TestServer, name: string): Promise<number> {
    const host = await api.post('/api/v1/hosts', { name });
    if (host.status !== 201) throw new Error(`host create: ${JSON.stringify(host.body)}`);
    const tok = await api.post(`/api/v1/hosts/${host.body.id}/join-token`);
    this.joinWith(server, tok.body.token, tok.body.ca_hash);
    return host.body.id;
  }

  joinWith(server: TestServer, token: string, caHash: string): void {
    this.start(['--join', `https://127.0.0.1:${server.agentPort}`, '--token', token, '--ca-hash', caHash]);
  }

  start(extra: string[] = []): void {
    const argv = [BIN, 'agent', '--state-dir', this.stateDir, '--runtimes', this.runtimes, ...this.extraArgs, ...extra];
    this.child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
  }

  async kill9(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGKILL');
    });
  }

  identity(): { credential: string; caPem: string; hostId: number } {
    return JSON.parse(readFileSync(join(this.stateDir, 'agent.json'), 'utf8'));
  }

  workloads(): { vmId: number }[] {
    return JSON.parse(readFileSync(join(this.stateDir, 'workloads.json'), 'utf8'));
  }

  async dispose(): Promise<void> {
    await this.kill9();
    await removeAgentLeftovers(this.stateDir);
  }
}

/** A real `oneedge agent` running inside a lab host, joined to a test front-end. */
export class TestAgent {
  child: ChildProcess | null = null;
  readonly stateDir: string;
  readonly lines: string[] = [];
  hostId = -1;

  constructor(
    readonly lab: NetnsLab,
    readonly host: NetnsHost,
    readonly runtimes = 'crun',
    /** Extra `oneedge agent` flags on every start. */
    readonly extraArgs: string[] = [],
  ) {
    this.stateDir = mkdtempSync(join(tmpdir(), `oneedge-agent-h${host.index}-`));
    lab.onDispose(() => this.cleanup());
  }

  /** Creates the host object, issues a join token and starts the agent with --join. */
  async join(api: Api, server: TestServer, name = `edge-${this.host.index}`): Promise<number> {
    const host = await api.post('/api/v1/hosts', { name });
    if (host.status !== 201) throw new Error(`host create: ${JSON.stringify(host.body)}`);
    this.hostId = host.body.id;
    const tok = await api.post(`/api/v1/hosts/${this.hostId}/join-token`);
    this.start([
      '--join',
      `https://${this.lab.bridgeIp}:${server.agentPort}`,
      '--token',
      tok.body.token,
      '--ca-hash',
      tok.body.ca_hash,
    ]);
    return this.hostId;
  }

  /** Starts (or restarts) the agent; with no flags it reuses its stored credential. */
  start(extra: string[] = []): void {
    const argv = [
      process.execPath,
      BIN,
      'agent',
      '--state-dir',
      this.stateDir,
      '--runtimes',
      this.runtimes,
      ...this.extraArgs,
      ...extra,
    ];
    const child = this.lab.spawn(this.host, argv, { env: { ...process.env, ONEEDGE_LOG_LEVEL: 'debug' } });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (l) => {
        this.lines.push(l);
        if (this.lines.length > 500) this.lines.shift();
      });
    }
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    // nsenter forwards nothing: make sure the node process itself is gone too.
    await run('pkill', ['-KILL', '-f', `--state-dir ${this.stateDir}`]).catch(() => undefined);
    this.child = null;
  }

  /** Where this agent's workloads live in each cgroup hierarchy (relative to the controller root). */
  cgroupParent(): string {
    return cgroupParentFor(JSON.parse(readFileSync(join(this.stateDir, 'agent.json'), 'utf8')));
  }

  log(): string {
    return this.lines.join('\n');
  }

  /** Removes whatever the agent's workloads left behind: containers, mounts, cgroups, state. */
  async cleanup(): Promise<void> {
    await this.kill9();
    await removeAgentLeftovers(this.stateDir);
  }
}

/**
 * Removes what an agent's workloads left on this machine: runtime containers
 * (by the agent's own runtime state roots), mounts under its state directory,
 * the host's cgroups, and the state directory itself.
 */
export async function removeAgentLeftovers(stateDir: string): Promise<void> {
  const idFile = join(stateDir, 'agent.json');
  const cgroupParent = existsSync(idFile) ? cgroupParentFor(JSON.parse(readFileSync(idFile, 'utf8'))) : undefined;
  for (const flavour of ['crun', 'runc']) {
    const root = join(stateDir, 'runtime', flavour);
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) {
      await run(flavour, ['--root', root, 'delete', '-f', name]).catch(() => undefined);
    }
  }
  // microVMs run daemonized (they outlive agents by design): stop them by their pid files.
  const qemuIndex = join(stateDir, 'runtime', 'qemu', 'vms');
  if (existsSync(qemuIndex)) {
    for (const name of readdirSync(qemuIndex)) {
      try {
        const pid = Number(readFileSync(join(qemuIndex, name, 'qemu.pid'), 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // not running
      }
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(stateDir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
  if (cgroupParent && existsSync('/sys/fs/cgroup')) {
    for (const ctrl of readdirSync('/sys/fs/cgroup')) removeCgroupTree(join('/sys/fs/cgroup', ctrl, cgroupParent));
  }
  rmSync(stateDir, { recursive: true, force: true });
}

/** cgroup directories go with rmdir, deepest first (their files cannot be unlinked). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const sub of readdirSync(dir, { withFileTypes: true }))
    if (sub.isDirectory()) removeCgroupTree(join(dir, sub.name));
  try {
    rmdirSync(dir);
  } catch {
    // still has tasks: the dispose() kill of every netns process makes it empty for the next run
  }
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
