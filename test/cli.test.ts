/**
 * The `oneedge` command against a real front-end: starts `oneedge server` on
 * a free port with a fresh data directory, runs `bin/oneedge` as a child
 * process with its own HOME, and checks output and exit codes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ERRORS } from '../src/client/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'oneedge');
const START_TIMEOUT_MS = 60_000;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

interface VmJson {
  id: number;
  name: string;
  state: string;
  lcm_state: string;
  uname: string;
  template: Record<string, unknown>;
}

let dir = '';
let server: ChildProcess | undefined;
let url = '';
let env: NodeJS.ProcessEnv = {};

/** Starts the front-end and resolves with the URL it logged. */
function startServer(dataDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'server', '--data-dir', dataDir, '--port', '0', '--agent-port', '0'], {
      cwd: ROOT,
      env: { ...process.env, ONEEDGE_SCRYPT_COST: '1024', ONEEDGE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), START_TIMEOUT_MS);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (const line of buffered.split('\n')) {
        if (!line.includes('oneedge server listening')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
}

function oneedge(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, ...options.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(options.stdin ?? '');
  });
}

async function ok(args: string[], options?: { stdin?: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const r = await oneedge(args, options);
  assert.equal(r.code, 0, `oneedge ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return r.out;
}

async function vms(extra: string[] = []): Promise<VmJson[]> {
  return JSON.parse(await ok(['vm', 'list', '--json', ...extra])) as VmJson[];
}

const TEMPLATE = `# A web server, in OpenNebula's native syntax
NAME   = "web"
CPU    = 0.5       # half a CPU
VCPU   = 1
MEMORY = 256
DESCRIPTION = "first line
second line with \\"quotes\\""
CONTEXT = [
  NETWORK        = "YES",
  ROOT_PASSWORD  = "$ROOT_PW" ]
USER_INPUTS = [
  ROOT_PW = "M|password|Root password" ]
`;

const BROKEN = `NAME = "broken"
CPU = 1
DISK = [ IMAGE = "x"
MEMORY = 128
`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oneedge-cli-it-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  url = await startServer(join(dir, 'data'));
  env = {
    PATH: process.env.PATH,
    HOME: home,
    ONEEDGE_URL: url,
    ONEEDGE_AUTH: join(dir, 'data', 'oneadmin.auth'),
  };
});

after(async () => {
  const child = server;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('oneedge CLI against a real front-end', () => {
  it('logs in with ONEEDGE_AUTH and caches the token with mode 0600', async () => {
    assert.match(await ok(['whoami']), /^oneadmin \(id 0, group 0, administrator\)/);
    const tokenFile = join(env.HOME!, '.oneedge', 'token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const cached = JSON.parse(readFileSync(tokenFile, 'utf8')) as { url: string; token: string };
    assert.equal(cached.url, url.replace(/\/api\/v1$/, ''));
  });

  it('creates a template from a native file with vectors, comments, multi-line values and USER_INPUTS', async () => {
    const file = join(dir, 'web.tpl');
    writeFileSync(file, TEMPLATE);
    assert.equal(await ok(['template', 'create', file]), 'ID: 0\n');
    const shown = JSON.parse(await ok(['template', 'show', 'web', '--json'])) as { template: Record<string, unknown> };
    assert.equal(shown.template.DESCRIPTION, 'first line\nsecond line with "quotes"');
    assert.deepEqual(shown.template.CONTEXT, { NETWORK: 'YES', ROOT_PASSWORD: '$ROOT_PW' });
    assert.deepEqual(shown.template.USER_INPUTS, { ROOT_PW: 'M|password|Root password' });
    const human = await ok(['template', 'show', '0']);
    assert.match(human, /^TEMPLATE 0 INFORMATION\n/);
    assert.match(human, /\nTEMPLATE CONTENTS\n[\s\S]*CONTEXT = \[\n {2}NETWORK = "YES",/);
  });

  it('refuses to instantiate without the mandatory user input', async () => {
    const r = await oneedge(['template', 'instantiate', '0']);
    assert.equal(r.code, ERRORS.E_USER_INPUT.exit);
    assert.match(r.err, /^oneedge: \[E_USER_INPUT\] /);
  });

  it('instantiates --multiple 3 into three PENDING VMs', async () => {
    const out = await ok(['template', 'instantiate', 'web', '--multiple', '3', '--user-input', 'ROOT_PW=s3cret,x']);
    assert.equal(out, 'VM ID: 0\nVM ID: 1\nVM ID: 2\n');
    const list = await vms();
    assert.equal(list.length, 3);
    for (const vm of list) {
      assert.equal(vm.state, 'PENDING');
      assert.equal((vm.template.CONTEXT as Record<string, string>).ROOT_PASSWORD, 's3cret,x');
    }
    const table = await ok(['vm', 'list']);
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID USER +GROUP +NAME +STAT +CPU +MEM +HOST +TIME$/);
    assert.equal(lines.length, 4);
    for (const line of lines.slice(1)) assert.match(line, /^ *\d+ oneadmin oneadmin web-\d+ +pend +0\.5 +256M/);
  });

  it('exits with E_TEMPLATE_SYNTAX’s code and shows line and column for a malformed template', async () => {
    const file = join(dir, 'broken.tpl');
    writeFileSync(file, BROKEN);
    const r = await oneedge(['template', 'create', file]);
    assert.equal(r.code, ERRORS.E_TEMPLATE_SYNTAX.exit);
    assert.match(r.err, /^oneedge: \[E_TEMPLATE_SYNTAX\] line 4, column 1: /);
    assert.match(r.err, /broken\.tpl:4:1\n {2}4 \| MEMORY = 128\n/);
    const stdin = await oneedge(['template', 'create', '-'], { stdin: 'NAME = "x"\nCPU = "1\n' });
    assert.equal(stdin.code, ERRORS.E_TEMPLATE_SYNTAX.exit);
    assert.match(stdin.err, /line 2, column 7/);
  });

  it('holds and releases VMs, also by id list', async () => {
    assert.equal(await ok(['vm', 'hold', '0']), '');
    assert.equal((await vms()).find((v) => v.id === 0)?.state, 'HOLD');
    await ok(['vm', 'hold', '1..2']);
    assert.deepEqual(
      (await vms(['--state', 'HOLD'])).map((v) => v.id),
      [0, 1, 2],
    );
    const released = JSON.parse(await ok(['vm', 'release', 'web-0', '--json'])) as VmJson;
    assert.equal(released.state, 'PENDING');
    assert.equal(await ok(['vm', 'list', '--filter', 'STAT=hold', '-l', 'ID', '--no-header']), '1\n2\n');
    const again = await oneedge(['vm', 'release', '0']);
    assert.equal(again.code, ERRORS.E_VM_ACTION_STATE.exit);
    assert.match(again.err, /^oneedge: \[E_VM_ACTION_STATE\] /);
    assert.match(await ok(['vm', 'actions', '1']), /^release$/m);
  });

  it('schedules, shows, updates and deletes scheduled actions', async () => {
    const when = '2031-06-02T09:30:00';
    const added = JSON.parse(
      await ok(['vm', 'schedule', '1', 'poweroff', '--time', when, '--weekly', '1,5', '--end', '3', '--json']),
    ) as { sched_actions: { id: number; time: number; repeat: string; days: number[]; end_type: string }[] };
    assert.deepEqual(added.sched_actions[0], {
      ...added.sched_actions[0],
      id: 0,
      time: Math.floor(Date.parse(when) / 1000),
      repeat: 'weekly',
      days: [1, 5],
      end_type: 'times',
    });
    assert.match(
      await ok(['vm', 'show', '1']),
      /SCHEDULED ACTIONS[\s\S]*poweroff +2031-06-02 09:30:\d\d +weekly 1,5 +3 left/,
    );
    await ok(['vm', 'sched-update', '1', '0', 'reboot', '--time', '+7200']);
    assert.match(await ok(['vm', 'show', '1']), /\n +0 +reboot /);
    const bad = await oneedge(['vm', 'schedule', '1', 'poweroff', '--time', '+5', '--weekly', '9']);
    assert.equal(bad.code, ERRORS.E_SCHED_ACTION.exit);
    assert.match(bad.err, /\[E_SCHED_ACTION\] SCHED_ACTION\[1\]\/DAYS/);
    const usage = await oneedge(['vm', 'schedule', '1', 'poweroff', '--time', 'someday']);
    assert.equal(usage.code, 2);
    await ok(['vm', 'sched-delete', '1', '0']);
    assert.doesNotMatch(await ok(['vm', 'show', '1']), /SCHEDULED ACTIONS/);
  });

  it('creates users and changes owners, groups and permissions', async () => {
    assert.equal(await ok(['user', 'create', 'alice', '--password-stdin'], { stdin: 'alice-pass-1\n' }), 'ID: 1\n');
    assert.match(await ok(['user', 'list']), /\n +1 alice +Yes +users /);
    await ok(['template', 'chown', 'web', 'alice', 'users']);
    await ok(['template', 'chmod', 'web', '640']);
    const t = JSON.parse(await ok(['template', 'show', '0', '--json'])) as Record<string, unknown>;
    assert.equal(t.uname, 'alice');
    assert.equal(t.gname, 'users');
    assert.equal(t.permissions, '640');
    await ok(['vm', 'chown', '2', 'alice']);

    const aliceAuth = join(dir, 'alice.auth');
    writeFileSync(aliceAuth, 'alice:alice-pass-1\n');
    chmodSync(aliceAuth, 0o600);
    const asAlice = { env: { ONEEDGE_AUTH: aliceAuth, HOME: join(dir, 'alice-home') } };
    const mine = JSON.parse(await ok(['vm', 'list', '--json'], asAlice)) as VmJson[];
    assert.deepEqual(
      mine.map((v) => v.id),
      [2],
    );
    const denied = await oneedge(['vm', 'hold', '0'], asAlice);
    assert.equal(denied.code, ERRORS.E_NOT_FOUND.exit, 'VMs of others are invisible, not forbidden');
    const forbidden = await oneedge(['host', 'create', 'edge-1'], asAlice);
    assert.equal(forbidden.code, ERRORS.E_FORBIDDEN.exit);

    await ok(['user', 'chgrp', 'alice', 'oneadmin']);
    assert.match(await ok(['user', 'show', 'alice']), /\nGROUP {15}: oneadmin\n/);
    await ok(['user', 'passwd', 'alice', '--password-stdin'], { stdin: 'alice-pass-2\n' });
    const stale = await oneedge(['whoami'], asAlice);
    assert.equal(stale.code, ERRORS.E_UNAUTHENTICATED.exit, 'the old password no longer works');
  });

  it('prints --yaml that parses', async () => {
    const list = parseYaml(await ok(['vm', 'list', '--yaml'])) as VmJson[];
    assert.equal(list.length, 3);
    const shown = parseYaml(await ok(['template', 'show', '0', '--yaml'])) as { name: string; template: object };
    assert.equal(shown.name, 'web');
    assert.deepEqual((shown.template as Record<string, unknown>).USER_INPUTS, { ROOT_PW: 'M|password|Root password' });
  });

  it('update sends If-Match: a change made meanwhile gives the conflict exit code', async () => {
    const editor = join(dir, 'editor.sh');
    writeFileSync(
      editor,
      `#!/bin/sh\n"${process.execPath}" "${BIN}" template rename 0 web-renamed >/dev/null\necho 'LABEL = "x"' >> "$1"\n`,
    );
    chmodSync(editor, 0o755);
    const r = await oneedge(['template', 'update', '0'], { env: { EDITOR: editor } });
    assert.equal(r.code, ERRORS.E_REVISION_MISMATCH.exit);
    assert.match(r.err, /^oneedge: \[E_REVISION_MISMATCH\] /);
    await ok(['template', 'update', 'web-renamed', '-', '--append'], { stdin: 'LABEL = "y"\n' });
    const t = JSON.parse(await ok(['template', 'show', '0', '--json'])) as { template: Record<string, unknown> };
    assert.equal(t.template.LABEL, 'y');
    assert.equal(t.template.CPU, '0.5');
  });

  it('manages hosts', async () => {
    const created = await ok(['host', 'create', 'edge-1', '--cluster', 'default']);
    assert.match(
      created,
      /^ID: 0\nOn the host, run:\n {2}oneedge agent --join https:\/\/\S+ --token oej_0_\S+ --ca-hash [0-9a-f]{64}\n$/,
    );
    await ok(['host', 'disable', 'edge-1']);
    assert.match(await ok(['host', 'list']), /\n +0 edge-1 +0 +oneedge +oneedge +dsbl\n/);
    await ok(['host', 'enable', '0']);
    const h = JSON.parse(await ok(['host', 'show', '0', '--json'])) as { state: string };
    assert.equal(h.state, 'INIT');
  });

  it('manages virtual networks: ranges, holds, reservations and leases', async () => {
    await ok(['vnet', 'create', '-'], {
      stdin:
        'NAME = "lan"\nVN_MAD = "bridge"\nAR = [ TYPE = "IP4", IP = "10.9.0.10", SIZE = 4 ]\nGATEWAY = "10.9.0.1"\n',
    });
    const lan = JSON.parse(await ok(['vnet', 'show', 'lan', '--json'])) as {
      id: number;
      vn_mad: string;
      ar_pool: { ar_id: number; size: number; ip: string }[];
    };
    assert.equal(lan.vn_mad, 'bridge');
    assert.deepEqual(
      lan.ar_pool.map((a) => [a.ar_id, a.ip, a.size]),
      [[0, '10.9.0.10', 4]],
    );
    await ok(['vnet', 'addar', 'lan', '-'], { stdin: 'AR = [ TYPE = "IP4", IP = "10.9.1.10", SIZE = 2 ]\n' });
    // Overlapping ranges are refused with their code; nothing changes.
    const overlap = await oneedge(['vnet', 'addar', 'lan', '-'], {
      stdin: 'AR = [ TYPE = "IP4", IP = "10.9.0.12", SIZE = 2 ]\n',
    });
    assert.equal(overlap.code, ERRORS.E_AR_OVERLAP.exit, overlap.err);
    assert.match(overlap.err, /\[E_AR_OVERLAP\]/);
    await ok(['vnet', 'hold', 'lan', '--ip', '10.9.0.11']);
    const outside = await oneedge(['vnet', 'hold', 'lan', '--ip', '10.9.7.7']);
    assert.equal(outside.code, ERRORS.E_IP_OUT_OF_RANGE.exit, outside.err);
    const leases = await ok(['vnet', 'leases', 'lan']);
    assert.match(leases, /10\.9\.0\.11/);
    await ok(['vnet', 'reserve', 'lan', '--size', '2', '--name', 'lan-mine']);
    const mine = JSON.parse(await ok(['vnet', 'show', 'lan-mine', '--json'])) as {
      parent_network_id: number;
      ar_pool: { size: number }[];
    };
    assert.equal(mine.parent_network_id, lan.id);
    assert.equal(mine.ar_pool[0]?.size, 2);
    await ok(['vnet', 'release', 'lan', '--ip', '10.9.0.11']);
    assert.doesNotMatch(await ok(['vnet', 'leases', 'lan']), /10\.9\.0\.11 .*hold/);
    assert.match(await ok(['vnet', 'list']), /lan-mine/);
    await ok(['vnet', 'delete', 'lan-mine']);
    const inUse = await oneedge(['vnet', 'rmar', 'lan', '9']);
    assert.notEqual(inUse.code, 0, 'an unknown range is an error');
    assert.match(inUse.err, /\[E_NOT_FOUND\]/);
  });

  it('manages security groups and shows their rules', async () => {
    await ok(['secgroup', 'create', '-'], {
      stdin: 'NAME = "web"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "inbound", RANGE = "80,443" ]\n',
    });
    const g = JSON.parse(await ok(['secgroup', 'show', 'web', '--json'])) as { id: number; rules: unknown[] };
    assert.deepEqual(g.rules, [{ rule_type: 'inbound', protocol: 'TCP', ports: ['80', '443'], addresses: [] }]);
    const bad = await oneedge(['secgroup', 'update', 'web', '-'], {
      stdin: 'NAME = "web"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "sideways" ]\n',
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /RULE_TYPE/);
    await ok(['secgroup', 'update', 'web', '-', '--append'], {
      stdin: 'RULE = [ PROTOCOL = "ICMP", RULE_TYPE = "inbound" ]\n',
    });
    const after = JSON.parse(await ok(['secgroup', 'show', String(g.id), '--json'])) as { rules: unknown[] };
    assert.equal(after.rules.length, 2, 'the appended rule is kept with the first');
    assert.match(await ok(['secgroup', 'list']), /web/);
    await ok(['secgroup', 'delete', 'web']);
    const del0 = await oneedge(['secgroup', 'delete', '0']);
    assert.notEqual(del0.code, 0, 'the default group cannot be deleted');
  });

  it('streams events, replaying from --since', async () => {
    const child = spawn(process.execPath, [BIN, 'events', '--kinds', 'vm', '--json', '--since', '0'], {
      cwd: ROOT,
      env,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!out.includes('"op":"create"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await ok(['vm', 'hold', '0']);
      while (
        !/"id":0,"revision":\d+,"state":"HOLD"/.test(out.split('\n').slice(-4).join('\n')) &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; op: string; id: number; state?: string });
    assert.ok(events.every((e) => e.kind === 'vm'));
    assert.ok(events.some((e) => e.op === 'create' && e.id === 0));
    assert.ok(events.some((e) => e.id === 0 && e.state === 'HOLD'));
  });

  it('exits with E_UNAVAILABLE’s code when the front-end cannot be reached', async () => {
    const r = await oneedge(['vm', 'list'], { env: { ONEEDGE_URL: 'http://127.0.0.1:1', HOME: join(dir, 'nowhere') } });
    assert.equal(r.code, ERRORS.E_UNAVAILABLE.exit);
    assert.match(r.err, /^oneedge: \[E_UNAVAILABLE\] cannot reach http:\/\/127\.0\.0\.1:1\//);
  });

  it('logs out', async () => {
    await ok(['logout']);
    assert.throws(() => statSync(join(env.HOME!, '.oneedge', 'token')));
  });
});
