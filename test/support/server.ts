import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Generous: on a loaded 2-core machine a cold start (migrations, PKI, base image) has taken > 30 s. */
const START_TIMEOUT_MS = 90_000;

export const REPO = new URL('../../../', import.meta.url).pathname;
export const BIN = join(REPO, 'bin', 'oneedge');
/** The node flags bin/oneedge's `#!/usr/bin/env -S node …` line gives the daemons (kept when spawning through node). */
export const DAEMON_NODE_FLAGS: readonly string[] = (() => {
  const shebang = readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? '';
  return shebang.split(' ').filter((word) => word.startsWith('--'));
})();

export interface ServerOptions {
  /** A database URL (postgres://… or sqlite:…); default: SQLite in the data dir. */
  dbUrl?: string;
  /** Reuse a data dir (restart tests); default: a new temp dir. */
  dataDir?: string;
  env?: Record<string, string>;
  /** Extra `oneedge server` flags. */
  args?: string[];
  /** Node flags for the server process (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  execArgv?: string[];
}

/** A real `oneedge server` process on a free loopback port. */
export class TestServer {
  private child: ChildProcess | null = null;
  url = '';
  /** The agent listener's port and the CA hash agents pin. */
  agentPort = 0;
  caHash = '';
  readonly dataDir: string;
  private readonly ownsDir: boolean;
  output: string[] = [];

  constructor(private readonly opts: ServerOptions = {}) {
    this.ownsDir = !opts.dataDir;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'oneedge-srv-'));
  }

  get authFile(): string {
    return join(this.dataDir, 'oneadmin.auth');
  }

  /** oneadmin's generated password, read from `<data-dir>/oneadmin.auth`. */
  get adminPassword(): string {
    const line = readFileSync(this.authFile, 'utf8').trim();
    return line.slice(line.indexOf(':') + 1);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (or restarts) the server; `extraArgs` apply to this start only and win over the options'. */
  async start(extraArgs: readonly string[] = []): Promise<this> {
    // A restart keeps the port, so clients (and their tokens) carry on as after a real restart.
    const port = this.url ? new URL(this.url).port : '0';
    const args = [BIN, 'server', '--data-dir', this.dataDir, '--port', port, '--log-level', 'info'];
    args.push('--agent-port', String(this.agentPort), ...(this.opts.args ?? []), ...extraArgs);
    if (this.opts.dbUrl) args.push('--db-url', this.opts.dbUrl);
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...(this.opts.execArgv ?? []), ...args], {
      env: { ...process.env, ONEEDGE_SCRYPT_COST: '1024', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.output = [];
    child.stderr?.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.url = await new Promise<string>((resolve, reject) => {
      // A server that never comes up is killed: a live child would keep the test process (and its
      // file) running until the runner's own timeout.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`server did not start within ${START_TIMEOUT_MS / 1000} s:\n${this.output.join('\n')}`));
      }, START_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        this.output.push(line);
        if (this.output.length > 200) this.output.shift();
        const m = /"url":"(http:\/\/[^"]+)\/api\/v1"/.exec(line);
        const agent = /"agentUrl":"https:\/\/[^"]*:(\d+)","caHash":"([0-9a-f]+)"/.exec(line);
        if (agent?.[1] && agent[2]) {
          this.agentPort = Number(agent[1]);
          this.caHash = agent[2];
        }
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.output.join('\n')}`));
      });
    });
    return this;
  }

  /** SIGKILL: no shutdown hooks run, like a crash or power loss. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async dispose(): Promise<void> {
    await this.signal('SIGKILL');
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  logs(): string {
    return this.output.join('\n');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(sig);
    });
    this.child = null;
  }
}
