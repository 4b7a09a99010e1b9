import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { FetchLike } from '../client/index.js';
import type { CliConfig, CliIo } from './cli-context.js';
import { run } from './main.js';

const NOW = 1_800_000_000_000;
const URL_ = 'http://fake:2633';

const VM = {
  id: 4,
  name: 'web-0',
  uid: 0,
  gid: 0,
  uname: 'oneadmin',
  gname: 'oneadmin',
  permissions: '600',
  revision: 3,
  created_at: NOW - 65_000,
  updated_at: NOW,
  state: 'PENDING',
  lcm_state: 'LCM_INIT',
  template: { CPU: '1', MEMORY: '512', DISK: [{ IMAGE_ID: '0' }, { IMAGE_ID: '1' }] },
  template_id: 0,
  host_id: null,
  host_name: null,
  stime: (NOW - 65_000) / 1000,
  etime: 0,
  history: [],
  user_template: {},
};

const error = (status: number, code: string, message: string) =>
  new Response(JSON.stringify({ error: { code, message, details: {} } }), { status });
const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status });

/** A tiny stand-in for the front-end: one VM, one valid token at a time. */
class FakeApi {
  logins = 0;
  validToken = '';
  requests: string[] = [];

  fetch: FetchLike = async (url, init = {}) => {
    const method = init.method ?? 'GET';
    const path = new URL(url).pathname.replace('/api/v1', '');
    this.requests.push(`${method} ${path}`);
    if (path === '/auth/token' && method === 'POST') {
      const body = JSON.parse(String(init.body)) as { username: string; password: string };
      if (body.password !== 'pw:with:colons') return error(401, 'E_UNAUTHENTICATED', 'wrong username or password');
      this.logins++;
      this.validToken = `tok${this.logins}`;
      const user = { id: 0, name: body.username, gid: 0, groups: [0], admin: true };
      return json({ token: this.validToken, expires_at: NOW + 3_600_000, user });
    }
    const auth = (init.headers as Record<string, string>).authorization;
    if (auth !== `Bearer ${this.validToken}`) return error(401, 'E_TOKEN_EXPIRED', 'the session token has expired');
    if (path === '/vms' && method === 'GET') return json({ items: [VM], next: null, total: 1 });
    if (path === '/vms/4' && method === 'GET') return json(VM);
    if (path === '/vms/4/actions/hold') return json({ ...VM, state: 'HOLD', revision: 4 });
    if (path.startsWith('/vms/')) return error(404, 'E_NOT_FOUND', `vm ${path.split('/')[2]} does not exist`);
    return error(404, 'E_ROUTE_NOT_FOUND', `no route ${method} ${path}`);
  };
}

const dir = mkdtempSync(join(tmpdir(), 'oneedge-cli-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let api: FakeApi;
let config: CliConfig;
let counter = 0;

beforeEach(() => {
  api = new FakeApi();
  const home = join(dir, `home${counter++}`);
  const authFile = join(dir, 'auth');
  writeFileSync(authFile, 'oneadmin:pw:with:colons\n');
  config = { url: URL_, authFile, tokenFile: join(home, '.oneedge', 'token'), editor: 'true' };
});

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    readStdin: async () => stdin,
    stdinIsTTY: false,
    promptSecret: async () => 'typed',
    interrupt: () => new AbortController().signal,
    edit: async () => 0,
    now: () => NOW,
  };
  const code = await run(argv, io, config, { fetch: api.fetch });
  return { code, out, err };
}

describe('oneedge (against a fake API)', () => {
  it('logs in with ONEEDGE_AUTH, caches the token 0600 and reuses it', async () => {
    const first = await cli(['vm', 'list']);
    assert.equal(first.code, 0, first.err);
    assert.equal(
      first.out,
      [
        'ID USER     GROUP    NAME  STAT CPU  MEM HOST     TIME',
        ' 4 oneadmin oneadmin web-0 pend   1 512M      0d 00h01',
        '',
      ].join('\n'),
    );
    const cached = JSON.parse(readFileSync(config.tokenFile, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cached, { url: URL_, token: 'tok1', expires_at: NOW + 3_600_000, user: 'oneadmin' });
    assert.equal(statSync(config.tokenFile).mode & 0o777, 0o600);
    assert.equal((await cli(['vm', 'list'])).code, 0);
    assert.equal(api.logins, 1, 'the second run used the cached token');
  });

  it('logs in again when the cached token is refused, and retries', async () => {
    await cli(['vm', 'list']);
    api.validToken = 'rotated';
    const res = await cli(['vm', 'show', '4', '--json']);
    assert.equal(res.code, 0, res.err);
    assert.equal(api.logins, 2);
    assert.equal((JSON.parse(res.out) as { id: number }).id, 4);
  });

  it('does not use a token cached for another URL', async () => {
    await cli(['vm', 'list']);
    const res = await cli(['--url', 'http://fake:2633/api/v1/', 'vm', 'list']);
    assert.equal(res.code, 0);
    assert.equal(api.logins, 1, 'same front-end once normalised');
    await cli(['--url', 'http://other:2633', 'vm', 'list']);
    assert.equal(api.logins, 2);
  });

  it('prints show in OpenNebula style with the template in native syntax', async () => {
    const res = await cli(['vm', 'show', 'web-0']);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /^VIRTUAL MACHINE 4 INFORMATION\n/);
    assert.match(res.out, /\nSTATE {15}: PENDING\n/);
    assert.match(res.out, /\nPERMISSIONS\nOWNER {15}: um-\n/);
    assert.match(res.out, /\nVIRTUAL MACHINE TEMPLATE\nCPU = "1"\nMEMORY = "512"\nDISK = \[\n {2}IMAGE_ID = "0" \]\n/);
  });

  it('prints YAML and JSON that parse back to the objects', async () => {
    const yaml = await cli(['vm', 'list', '--yaml']);
    assert.deepEqual(parseYaml(yaml.out), [VM]);
    const json = await cli(['vm', 'hold', '4', '--json']);
    assert.equal((JSON.parse(json.out) as { state: string }).state, 'HOLD');
    assert.deepEqual(api.requests.at(-1), 'POST /vms/4/actions/hold');
  });

  it('reports API errors with their code and exit status', async () => {
    const res = await cli(['vm', 'show', '9']);
    assert.equal(res.code, 5);
    assert.equal(res.err, 'oneedge: [E_NOT_FOUND] vm 9 does not exist\n');
    const byName = await cli(['vm', 'show', 'nope']);
    assert.equal(byName.code, 5);
    assert.match(byName.err, /no vm named 'nope'/);
  });

  it('goes on after a failed id of a list and exits with the failure', async () => {
    const res = await cli(['vm', 'hold', '4,9']);
    assert.equal(res.code, 5);
    assert.equal(res.err, 'oneedge: vm 9: [E_NOT_FOUND] vm 9 does not exist\n');
    assert.ok(api.requests.includes('POST /vms/4/actions/hold'));
  });

  it('exits 3 with a hint when there are no credentials', async () => {
    config = { ...config, authFile: join(dir, 'missing') };
    const res = await cli(['vm', 'list']);
    assert.equal(res.code, 3);
    assert.match(res.err, /\[E_UNAUTHENTICATED\] not logged in to http:\/\/fake:2633: run 'oneedge login'/);
  });

  it('exits 8 when the front-end cannot be reached', async () => {
    config = { ...config, url: 'http://127.0.0.1:1' };
    const res = await run(
      ['vm', 'list'],
      {
        stdout: () => undefined,
        stderr: () => undefined,
        readStdin: async () => '',
        stdinIsTTY: false,
        promptSecret: async () => '',
        interrupt: () => new AbortController().signal,
        edit: async () => 0,
        now: () => NOW,
      },
      config,
    );
    assert.equal(res, 8);
  });

  it('logs in with --password-stdin and rejects a wrong password', async () => {
    const ok = await cli(['login', '--username', 'oneadmin', '--password-stdin'], 'pw:with:colons\n');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /logged in to http:\/\/fake:2633 as oneadmin/);
    const bad = await cli(['login', '--username', 'oneadmin', '--password-stdin'], 'nope\n');
    assert.equal(bad.code, 3);
  });

  it('logout removes the token file', async () => {
    await cli(['vm', 'list']);
    assert.equal((await cli(['logout'])).code, 0);
    assert.throws(() => statSync(config.tokenFile));
  });
});

describe('oneedge usage errors', () => {
  const cases: Array<[string, string[]]> = [
    ['no command', []],
    ['unknown noun', ['vmm', 'list']],
    ['noun without verb', ['vm']],
    ['missing argument', ['vm', 'show']],
    ['unknown option', ['vm', 'list', '--bogus']],
    ['--json with --yaml', ['vm', 'list', '--json', '--yaml']],
    ['recover without a mode', ['vm', 'recover', '1']],
    ['migrate with two flavours', ['vm', 'migrate', '1', '2', '--live', '--poweroff']],
    ['bad permissions', ['vm', 'chmod', '1', '999']],
    ['bad --multiple', ['template', 'instantiate', '1', '--multiple', '0']],
    ['bad user input', ['template', 'instantiate', '1', '--user-inputs', 'novalue']],
    ['missing template file', ['template', 'create', '/nonexistent/t.tpl']],
    ['unknown event kind', ['events', '--kinds', 'vm,bogus']],
    ['user create without password', ['user', 'create', 'alice']],
  ];
  for (const [what, argv] of cases) {
    it(`${what} exits 2`, async () => {
      const res = await cli(argv);
      assert.equal(res.code, 2, `${argv.join(' ')}: ${res.err}`);
      assert.match(res.err, /oneedge|Usage/);
    });
  }

  it('--help and --version exit 0', async () => {
    const help = await cli(['vm', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /terminate \[options\] <ids>/);
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.out, /^\d+\.\d+\.\d+/);
  });
});
