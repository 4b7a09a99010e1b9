import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { removeAgentLeftovers, waitFor } from './support/agents.js';
import { BIN, REPO } from './support/server.js';

const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The README's first command, end to end: `scripts/up` brings the front-end
 * up, the CLI works with the generated credentials, and after `kill -9` and a
 * second `scripts/up` the same objects with the same ids and revisions are there.
 */
describe('scripts/up', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (...args: string[]) => (await run(BIN, args, { env })).stdout;
  const up = async () => (await run(join(REPO, 'scripts', 'up'), [], { env, timeout: 300_000 })).stdout;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'oneedge-up-'));
    const port = await freePort();
    const agentPort = await freePort();
    env = {
      ...process.env,
      ONEEDGE_HOME: home,
      ONEEDGE_PORT: String(port),
      ONEEDGE_AGENT_PORT: String(agentPort),
      ONEEDGE_URL: `http://127.0.0.1:${port}`,
      ONEEDGE_AUTH: join(home, 'data', 'oneadmin.auth'),
      HOME: home,
    };
  });
  after(async () => {
    const vms = JSON.parse(await cli('vm', 'list', '--json').catch(() => '[]')) as { id: number }[];
    if (vms.length > 0) await cli('vm', 'terminate', vms.map((v) => v.id).join(',')).catch(() => undefined);
    await waitFor(
      'VMs terminated',
      async () => (JSON.parse(await cli('vm', 'list', '--json')) as unknown[]).length === 0,
      20_000,
    ).catch(() => undefined);
    await run(join(REPO, 'scripts', 'down'), [], { env }).catch(() => undefined);
    await removeAgentLeftovers(join(home, 'agent'));
    rmSync(home, { recursive: true, force: true });
  });

  test('brings up the front-end and a local host; containers run; kill -9 and restart keep every object', async () => {
    const out = await up();
    assert.match(out, /API: +http:\/\/127\.0\.0\.1:\d+\/api\/v1/);
    assert.match(out, /oneadmin\.auth/);
    await cli('template', 'create', join(REPO, 'examples', 'templates', 'busybox.tmpl'));
    await cli('template', 'instantiate', 'busybox-web', '--multiple', '3', '--user-input', 'MOTD=hi');
    type Row = { id: number; revision: number; state: string; lcm_state: string };
    const before = await waitFor('3 VMs RUNNING on the local host', async () => {
      const vms = JSON.parse(await cli('vm', 'list', '--json')) as Row[];
      return vms.length === 3 && vms.every((v) => v.lcm_state === 'RUNNING') ? vms : undefined;
    });
    const port = 8000 + (before[0] as Row).id;
    assert.equal((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim(), 'hi');

    const pid = Number(readFileSync(join(home, 'server.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await up();
    await new Promise((r) => setTimeout(r, 1500));
    const after = JSON.parse(await cli('vm', 'list', '--json')) as typeof before;
    assert.deepEqual(
      after.map((v) => [v.id, v.revision, v.state, v.lcm_state]),
      before.map((v) => [v.id, v.revision, v.state, v.lcm_state]),
    );
  });
});
