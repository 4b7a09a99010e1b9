import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes a file atomically (temp file + rename) with the given mode. */
export async function writeAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** What `oneedge agent --join` obtains and every later start reuses. Mode 0600. */
export interface AgentIdentity {
  url: string;
  hostId: number;
  hostName: string;
  credential: string;
  caPem: string;
  caHash: string;
}

export const identityPath = (stateDir: string) => join(stateDir, 'agent.json');

/**
 * The cgroup parent of this agent's workloads: unique per front-end (CA) and
 * host, so several agents on one machine — or two front-ends' hosts — never
 * share a cgroup even though VM ids repeat across front-ends.
 */
export function cgroupParentFor(identity: Pick<AgentIdentity, 'caHash' | 'hostId'>): string {
  return `/oneedge/${identity.caHash.slice(0, 12)}-h${identity.hostId}`;
}
