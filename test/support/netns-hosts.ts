import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetnsHost {
  /** Index from 1. */
  index: number;
  /** The network namespace (also /var/run/netns/<ns>). */
  ns: string;
  /** This host's address on the lab bridge. */
  ip: string;
  /** The root-namespace end of its veth pair (set down to cut the host's link). */
  rootVeth: string;
}

/** Whether this process may create namespaces (root, with iproute2). */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0;
}

/** Why netns tests cannot run here, or false when they can. In CI they must run: never skip there. */
export function netnsSkipReason(): string | false {
  if (canUseNetns()) return false;
  if (process.env.CI === 'true') throw new Error('namespace tests need root in CI');
  return 'needs root to create network namespaces';
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/**
 * N edge hosts as network namespaces on a Linux bridge in the root namespace
 * (veth pairs), the way the integration tests model a fleet. The bridge gets
 * the `.254` address so the root namespace (where the front-end runs) is
 * reachable from every host. `dispose()` always removes every process,
 * namespace and link it created, even after a failed test; pass cleanup hooks
 * for anything else the test created (mounts, cgroups, state directories).
 */
export class NetnsLab {
  readonly hosts: NetnsHost[] = [];
  readonly bridge: string;
  readonly subnet: string;
  private readonly processes = new Set<ChildProcess>();
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private readonly tag: string;

  private constructor() {
    this.tag = randomBytes(2).toString('hex');
    this.bridge = `oeb${this.tag}`;
    // 10.77.x.0/24 with x from the tag, so parallel test files do not collide.
    this.subnet = `10.77.${(Number.parseInt(this.tag, 16) % 200) + 20}`;
  }

  get bridgeIp(): string {
    return `${this.subnet}.254`;
  }

  static async create(count: number): Promise<NetnsLab> {
    const lab = new NetnsLab();
    try {
      await ip('link', 'add', lab.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${lab.bridgeIp}/24`, 'dev', lab.bridge);
      await ip('link', 'set', lab.bridge, 'up');
      for (let i = 1; i <= count; i++) await lab.addHost();
    } catch (err) {
      await lab.dispose();
      throw err;
    }
    return lab;
  }

  async addHost(): Promise<NetnsHost> {
    const index = this.hosts.length + 1;
    const host: NetnsHost = {
      index,
      ns: `oe-${this.tag}-h${index}`,
      ip: `${this.subnet}.${index}`,
      rootVeth: `oev${this.tag}${index}`,
    };
    this.hosts.push(host);
    await ip('netns', 'add', host.ns);
    await ip('link', 'add', host.rootVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
    await ip('link', 'set', host.rootVeth, 'master', this.bridge, 'up');
    await ip('-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0');
    await ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', host.ns, 'link', 'set', 'lo', 'up');
    await ip('-n', host.ns, 'route', 'add', 'default', 'via', this.bridgeIp);
    return host;
  }

  /**
   * The argv that runs a command inside a host. `nsenter --net` enters only the
   * network namespace; unlike `ip netns exec` it keeps the machine's mounts
   * (/sys/fs/cgroup above all), which container runtimes need.
   */
  argv(host: NetnsHost, argv: string[]): string[] {
    return ['nsenter', `--net=/run/netns/${host.ns}`, '--', ...argv];
  }

  /** Runs a command inside a host and returns its stdout. */
  async exec(host: NetnsHost, argv: string[], timeoutMs = 30_000): Promise<string> {
    const [cmd, ...args] = this.argv(host, argv);
    const { stdout } = await run(cmd as string, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  }

  /** Starts a long-running process inside a host; killed by dispose(). */
  spawn(host: NetnsHost, argv: string[], options: SpawnOptions = {}): ChildProcess {
    const [cmd, ...args] = this.argv(host, argv);
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.processes.add(child);
    child.on('exit', () => this.processes.delete(child));
    return child;
  }

  /**
   * A second link between the hosts, without addresses: a veth named `name` in
   * every host, joined by one more Linux bridge in the root namespace — the
   * switch for VLAN trunks (a plain Linux bridge forwards 802.1Q frames as
   * they are, no 8021q module needed). Returns the bridge and the root ends,
   * in host order; dispose() removes them.
   */
  async addTrunk(name: string): Promise<{ bridge: string; rootVeths: string[] }> {
    const bridge = `oetb${this.tag}`;
    await ip('link', 'add', bridge, 'type', 'bridge');
    this.onDispose(() => ip('link', 'del', bridge));
    const rootVeths: string[] = [];
    for (const h of this.hosts) {
      const root = `oet${this.tag}${h.index}`;
      await ip('link', 'add', root, 'type', 'veth', 'peer', 'name', name, 'netns', h.ns);
      this.onDispose(() => ip('link', 'del', root));
      await ip('link', 'set', root, 'master', bridge, 'up');
      await ip('-n', h.ns, 'link', 'set', name, 'up');
      rootVeths.push(root);
    }
    await ip('link', 'set', bridge, 'up');
    return { bridge, rootVeths };
  }

  /** Cuts (or restores) a host's only link to the rest of the lab. */
  async setLink(host: NetnsHost, up: boolean): Promise<void> {
    await ip('link', 'set', host.rootVeth, up ? 'up' : 'down');
  }

  onDispose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async dispose(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    await Promise.all(
      [...this.processes].map(
        (p) => new Promise<void>((resolve) => (p.exitCode !== null ? resolve() : p.once('exit', () => resolve()))),
      ),
    );
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning: one failed hook must not leave the rest behind
      }
    }
    for (const h of this.hosts) {
      await run('ip', ['netns', 'pids', h.ns])
        .then(({ stdout }) => {
          for (const pid of stdout.split(/\s+/).filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // already gone
            }
          }
        })
        .catch(() => undefined);
      await ip('netns', 'del', h.ns).catch(() => undefined);
      await ip('link', 'del', h.rootVeth).catch(() => undefined);
    }
    await ip('link', 'del', this.bridge).catch(() => undefined);
  }
}
