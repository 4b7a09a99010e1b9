import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProbeOutput } from '../../core/monitoring.js';

const MAX_OUTPUT = 64 * 1024;

/**
 * Operator probes (OpenNebula's `im/<hv>-probes.d/host/monitor/*`): every
 * executable file in the probes directory runs as argv `[path]` (no shell),
 * in name order, each with a time limit. `KEY=VALUE` lines of their standard
 * output become host monitoring attributes (later probes win on equal keys);
 * a probe that exits non-zero, times out or prints too much is reported as an
 * error and contributes nothing.
 */
export async function runScriptProbes(
  dir: string,
  timeoutMs: number,
): Promise<{ custom: Record<string, string>; probeErrors: { probe: string; error: string }[] }> {
  const custom: Record<string, string> = {};
  const probeErrors: { probe: string; error: string }[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return { custom, probeErrors };
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (!(await stat(path)).isFile()) continue;
      await access(path, constants.X_OK);
    } catch {
      continue;
    }
    try {
      const out = await new Promise<string>((resolve, reject) => {
        execFile(
          path,
          [],
          { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, cwd: dir },
          (err, stdout, stderr) => {
            if (!err) return resolve(stdout);
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
            if (e.killed) return reject(new Error(`timed out after ${timeoutMs} ms`));
            const detail = String(stderr).trim().slice(0, 200);
            reject(new Error(`exit ${e.code ?? '?'}${detail ? `: ${detail}` : ''}`));
          },
        );
      });
      Object.assign(custom, parseProbeOutput(out));
    } catch (err) {
      probeErrors.push({ probe: name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { custom, probeErrors };
}
