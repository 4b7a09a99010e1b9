import { readFile, statfs } from 'node:fs/promises';
import { arch, cpus, hostname, totalmem } from 'node:os';
import type { HostFacts } from '../core/agent-protocol.js';
import { probeNuma } from './numa-probe.js';

export const AGENT_VERSION = '0.1.0';

/** What the agent tells the front-end about this machine at every hello. */
export async function hostFacts(
  runtimes: string[],
  unusable: Record<string, string>,
  stateDir?: string,
): Promise<HostFacts> {
  let memoryMb = Math.floor(totalmem() / 1048576);
  // Inside a memory-limited cgroup the limit is the real capacity.
  try {
    const limit = Number((await readFile('/sys/fs/cgroup/memory/memory.limit_in_bytes', 'utf8')).trim());
    if (Number.isFinite(limit) && limit > 0 && limit < totalmem()) memoryMb = Math.floor(limit / 1048576);
  } catch {
    // no v1 memory controller: keep the machine total
  }
  return {
    numa: await probeNuma(),
    hostname: hostname(),
    arch: arch(),
    cpus: cpus().length,
    memoryMb,
    agentVersion: AGENT_VERSION,
    runtimes,
    unusable,
    ...(stateDir ? await systemDs(stateDir) : {}),
  };
}

/** Size and free space of the filesystem holding the agent's state (the host's system datastore). */
async function systemDs(dir: string): Promise<Pick<HostFacts, 'systemDs'>> {
  try {
    const s = await statfs(dir);
    const mb = (blocks: number) => Math.floor((blocks * s.bsize) / 1048576);
    return { systemDs: { totalMb: mb(s.blocks), freeMb: mb(s.bavail) } };
  } catch {
    return {};
  }
}
