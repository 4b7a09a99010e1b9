import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { buildBusyboxRootfsTar } from '../../src/market/base-image.js';
import type { TestAgent } from './agents.js';
import type { Api } from './api.js';

const run = promisify(execFile);

/** Registers a template and instantiates it once; returns the VM id (asserts both steps succeed). */
export async function instantiateTemplate(api: Api, text: string): Promise<number> {
  const t = await api.post('/api/v1/templates', { template: text });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  const r = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, {});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.items[0].id;
}

/** The pid of a VM's workload, from the state file of the agent on its host. */
export function workloadPid(agents: readonly TestAgent[], vm: { id: number; host_id: number | null }): number {
  const agent = agents.find((a) => a.hostId === vm.host_id) as TestAgent;
  const records = JSON.parse(readFileSync(join(agent.stateDir, 'workloads.json'), 'utf8')) as {
    vmId: number;
    pid: number;
  }[];
  return records.find((r) => r.vmId === vm.id)?.pid as number;
}

/** HTTP GET from inside a workload's own network namespace; null when it fails. */
export async function fetchInWorkload(pid: number, url: string): Promise<string | null> {
  try {
    const { stdout } = await run('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'curl', '-sf', '-m', '2', url], {
      timeout: 8000,
    });
    return stdout.trim();
  } catch {
    return null;
  }
}

/**
 * Builds an ext4 OS image of the busybox root filesystem in `work` and uploads
 * it like any image (raw OS disk); returns its id. For microVM tests.
 */
export async function uploadBusyboxExt4(api: Api, serverUrl: string, work: string, name: string): Promise<number> {
  const tar = join(work, 'rootfs.tar');
  const dir = join(work, 'rootfs');
  const ext4 = join(work, `${name}.ext4`);
  await buildBusyboxRootfsTar(tar);
  await run('mkdir', ['-p', dir]);
  await run('tar', ['-xf', tar, '-C', dir]);
  await run('truncate', ['-s', '64M', ext4]);
  await run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-E', 'root_owner=0:0', '-d', dir, ext4]);
  const created = await api.post('/api/v1/images', { name, template: 'TYPE = OS\nFORMAT = raw' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const res = await fetch(`${serverUrl}/api/v1/images/${created.body.id}/content`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${api.token}`,
      'content-type': 'application/octet-stream',
      'content-length': String(statSync(ext4).size),
    },
    body: Readable.toWeb(createReadStream(ext4)) as unknown as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 200, await res.text());
  return created.body.id as number;
}
