import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OneEdgeClient, type StreamEvent } from '../src/client/index.js';
import { TestAgent, waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { NetnsLab, netnsSkipReason } from './support/netns-hosts.js';
import { BIN, REPO, TestServer } from './support/server.js';

const skip = netnsSkipReason();

/** VM usage every 0.5 s; host usage and system facts rarely, so host changes cannot drive VM graphs. */
const PERIODS = 'beacon=1,system=600,host=600,datastore=600,vm-state=1,vm-sync=5,vm-usage=0.5';

/** A container that prints a numbered line every 200 ms. */
const TICKER = String.raw`NAME = ticker
MEMORY = 32
CPU = 0.1
COMMAND = "yes | awk '{ print \"tick\", NR; fflush(); system(\"sleep 0.2\") }'"
`;

/** inotify watches the process holds, over all its inotify descriptors (fdinfo lists one line per watch). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

const ticks = (text: string): number[] => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));

/** Reads a follow response's NDJSON lines as they come. */
async function readFollow(res: Response, onLine: (o: Record<string, unknown>) => void): Promise<void> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onLine(JSON.parse(line) as Record<string, unknown>);
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
}

/**
 * Issue #9's live streams on real parts: a crun container on a namespace host
 * whose log is followed through the API and the CLI (and released on the
 * host when the viewer leaves), and per-VM monitoring events that reach the
 * VM's owner but not an unrelated user.
 */
describe('live log follow and VM monitoring events (crun on a namespace host)', { skip, timeout: 240_000 }, () => {
  let server: TestServer;
  let admin: Api;
  let alice: Api;
  let bob: Api;
  let lab: NetnsLab;
  let agent: TestAgent;
  let agentPid: number;
  let vmId: number;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oneedge-live-'));
    server = await new TestServer({
      args: ['--heartbeat', '1', '--monitor-flush-ms', '100'],
      // The ticker's shell ignores SIGTERM: terminate kills it after 2 s instead of 30.
      env: { ONEEDGE_STOP_TIMEOUT: '2' },
    }).start();
    admin = await Api.login(server.url, 'oneadmin', server.adminPassword);
    const other = await admin.post('/api/v1/groups', { name: 'others' });
    for (const [name, gid] of [
      ['alice', 1],
      ['bob', other.body.id],
    ] as const) {
      const u = await admin.post('/api/v1/users', { name, password: `${name}-password`, group_id: gid });
      assert.equal(u.status, 201, JSON.stringify(u.body));
    }
    alice = await Api.login(server.url, 'alice', 'alice-password');
    bob = await Api.login(server.url, 'bob', 'bob-password');
    lab = await NetnsLab.create(1);
    agent = new TestAgent(lab, lab.hosts[0] as (typeof lab.hosts)[number], 'crun', ['--probe-periods', PERIODS]);
    await agent.join(admin, server);
    await waitFor('host connected with crun', async () => {
      const h = (await admin.get(`/api/v1/hosts/${agent.hostId}`)).body;
      return h.connected && h.facts?.runtimes.includes('crun');
    });
    agentPid = agent.child?.pid as number;
    assert.match(readFileSync(`/proc/${agentPid}/cmdline`, 'utf8'), /agent/, 'the agent process itself');
    const tpl = await alice.post('/api/v1/templates', { template: TICKER });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    const vm = await alice.post(`/api/v1/templates/${tpl.body.id}/instantiate`, {});
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    vmId = vm.body.items[0].id;
    await waitFor(
      'VM running',
      async () => (await admin.get(`/api/v1/vms/${vmId}`)).body.lcm_state === 'RUNNING',
      60_000,
    );
    let seen: unknown;
    await waitFor('ticks in the log', async () => {
      seen = (await alice.get(`/api/v1/vms/${vmId}/log`)).body;
      return /tick 3/.test((seen as { data?: string }).data ?? '');
    }).catch((err: Error) => {
      throw new Error(`${err.message}; the log: ${JSON.stringify(seen)}; agent: ${agent.log().slice(-3000)}`);
    });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      await admin.del(`/api/v1/vms/${vmId}`);
      await waitFor('VM done', async () => (await admin.get('/api/v1/vms?limit=0')).body.total === 0, 20_000);
    } catch {
      // the lab's disposal removes what is left
    }
    await lab?.dispose();
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API streams new lines as the container writes them; the agent drops its watch when the viewer leaves', async () => {
    const baseline = inotifyWatches(agentPid);
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/vms/${vmId}/log?follow=true&tail=10`, {
      headers: { authorization: `Bearer ${alice.token}` },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
    let text = '';
    const lines: Record<string, unknown>[] = [];
    const reading = readFollow(res, (o) => {
      lines.push(o);
      if (typeof o.data === 'string') text += o.data;
    });
    try {
      const first = await waitFor('the tail', async () => Math.max(0, ...ticks(text)) || undefined, 10_000);
      assert.equal(
        lines[0]?.truncated,
        true,
        `a 10-byte tail of a longer log says it was cut: ${JSON.stringify(lines.slice(0, 3))}`,
      );
      const t0 = Date.now();
      await waitFor('five new lines', async () => Math.max(...ticks(text)) >= first + 5, 10_000);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 5000, `five lines at 200 ms each arrived within ${elapsed} ms, not in one late batch`);
      const seen = ticks(text);
      for (let i = 1; i < seen.length; i++)
        assert.equal(seen[i], (seen[i - 1] as number) + 1, 'no line lost or repeated');
      assert.equal(inotifyWatches(agentPid), baseline + 1, 'the agent watches the VM directory while followed');
      assert.match(agent.log(), /log follow started/);
    } finally {
      abort.abort();
      await reading;
    }
    await waitFor('watch released', async () => inotifyWatches(agentPid) === baseline, 10_000);
    await waitFor('agent logged the stop', async () => /log follow stopped/.test(agent.log()), 5000);
  });

  test('users without permission are refused, and so are requests without a token', async () => {
    const baseline = inotifyWatches(agentPid);
    const denied = await bob.get(`/api/v1/vms/${vmId}/log?follow=true`);
    assert.equal(denied.status, 404, 'VMs of others are invisible');
    assert.equal(denied.body.error.code, 'E_NOT_FOUND');
    const anonymous = await new Api(server.url).get(`/api/v1/vms/${vmId}/log?follow=true`);
    assert.equal(anonymous.status, 401);
    assert.equal(inotifyWatches(agentPid), baseline, 'nothing was followed on the host');
    // The typed client maps the refusal to the same error.
    const client = new OneEdgeClient(server.url, bob.token as string);
    await assert.rejects(
      client.followVmLog(vmId, () => undefined, new AbortController().signal),
      (err: { code?: string }) => err.code === 'E_NOT_FOUND',
    );
  });

  test('`oneedge vm log ID --follow` prints new lines until interrupted', async () => {
    const baseline = inotifyWatches(agentPid);
    const auth = join(dir, 'alice.auth');
    writeFileSync(auth, 'alice:alice-password\n');
    chmodSync(auth, 0o600);
    const child = spawn(process.execPath, [BIN, 'vm', 'log', String(vmId), '--follow', '--tail', '64'], {
      cwd: REPO,
      env: { ...process.env, ONEEDGE_URL: server.url, ONEEDGE_AUTH: auth, HOME: join(dir, 'home') },
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const first = await waitFor(
      `CLI output (stderr: ${err})`,
      async () => Math.max(0, ...ticks(out)) || undefined,
      15_000,
    );
    await waitFor('the CLI prints lines as they come', async () => Math.max(...ticks(out)) >= first + 4, 10_000);
    assert.equal(inotifyWatches(agentPid), baseline + 1);
    child.kill('SIGINT');
    assert.equal(await exited, 0, `exit code (stderr: ${err})`);
    await waitFor('watch released after the CLI left', async () => inotifyWatches(agentPid) === baseline, 10_000);
  });

  test('VM monitoring events reach the owner (and admins) but not an unrelated user', async () => {
    const collect = (token: string) => {
      const got: StreamEvent[] = [];
      const abort = new AbortController();
      const client = new OneEdgeClient(server.url, token);
      const done = client.events(['vm'], (e) => got.push(e), abort.signal, { monitoring: true });
      return { got, stop: () => abort.abort(), done };
    };
    const mine = collect(alice.token as string);
    const admins = collect(admin.token as string);
    const theirs = collect(bob.token as string);
    try {
      const named = (s: { got: StreamEvent[] }) =>
        s.got.filter((e) => e.type === 'monitoring' && e.event.vms.some((v) => v.id === vmId));
      await waitFor('two monitoring events for the owner', async () => named(mine).length >= 2, 15_000);
      await waitFor('monitoring events for an admin', async () => named(admins).length >= 1, 5000);
      const ev = named(mine)[0] as Extract<StreamEvent, { type: 'monitoring' }>;
      const item = ev.event.vms.find((v) => v.id === vmId);
      assert.equal(ev.event.kind, 'vm');
      assert.equal(item?.host_id, agent.hostId);
      assert.ok(item && item.ts > Date.now() - 60_000 && item.ts <= Date.now(), 'ts is the sample time');
      // The event means the sample is readable: the monitoring endpoint has it.
      const series = await alice.get(`/api/v1/vms/${vmId}/monitoring?from=${item?.ts}`);
      assert.ok(
        series.body.items.some((s: { ts: number }) => s.ts === item?.ts),
        JSON.stringify(series.body),
      );
      assert.equal(
        theirs.got.filter((e) => e.type === 'monitoring').length,
        0,
        `bob may not see VM ${vmId}: ${JSON.stringify(theirs.got)}`,
      );
    } finally {
      for (const s of [mine, admins, theirs]) s.stop();
      await Promise.all([mine.done, admins.done, theirs.done]);
    }
    // Without monitoring=true the stream carries no monitoring events (existing clients see no change).
    const plain: StreamEvent[] = [];
    const abort = new AbortController();
    const done = new OneEdgeClient(server.url, alice.token as string).events(
      ['vm'],
      (e) => plain.push(e),
      abort.signal,
    );
    await new Promise((r) => setTimeout(r, 1500));
    abort.abort();
    await done;
    assert.equal(plain.filter((e) => e.type === 'monitoring').length, 0);
  });

  test('a follow ends with {"end":"gone"} when the VM is terminated, and the watch goes with it', async () => {
    const baseline = inotifyWatches(agentPid);
    const client = new OneEdgeClient(server.url, alice.token as string);
    let text = '';
    const following = client.followVmLog(
      vmId,
      (c) => {
        text += c.data;
      },
      AbortSignal.timeout(60_000),
    );
    await waitFor('following', async () => ticks(text).length > 0, 10_000);
    const del = await alice.del(`/api/v1/vms/${vmId}`);
    assert.ok(del.status < 300, JSON.stringify(del.body));
    assert.deepEqual(await following, { end: 'gone' });
    await waitFor('watch released', async () => inotifyWatches(agentPid) === baseline, 10_000);
  });
});
