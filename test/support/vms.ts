import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
