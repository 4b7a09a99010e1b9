import { CommandError, runCommand } from '../runtime/exec.js';

/** `ip …` in the agent's network namespace (or in `ns`, a named one); argv only. */
export async function ip(args: readonly string[], signal: AbortSignal, ns?: string): Promise<string> {
  return (await runCommand(['ip', ...(ns ? ['-n', ns] : []), ...args], signal)).stdout;
}

/** `bridge …`, like ip(). */
export async function bridgeCmd(args: readonly string[], signal: AbortSignal, ns?: string): Promise<string> {
  return (await runCommand(['bridge', ...(ns ? ['-n', ns] : []), ...args], signal)).stdout;
}

export async function linkExists(name: string, signal: AbortSignal, ns?: string): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', name], signal, ns);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** Deletes a link; a link that is already gone is fine. */
export async function deleteLink(name: string, signal: AbortSignal, ns?: string): Promise<void> {
  if (await linkExists(name, signal, ns)) await ip(['link', 'del', 'dev', name], signal, ns);
}

/** Creates a Linux bridge if missing and brings it up. */
export async function ensureBridge(name: string, signal: AbortSignal, ns?: string): Promise<void> {
  if (!(await linkExists(name, signal, ns))) {
    try {
      await ip(['link', 'add', 'name', name, 'type', 'bridge'], signal, ns);
    } catch (err) {
      // Another plan created it meanwhile.
      if (!(await linkExists(name, signal, ns))) throw err;
    }
  }
  await ip(['link', 'set', 'dev', name, 'up'], signal, ns);
}

/** The interface of the default route (the uplink), if any. */
export async function defaultInterface(signal: AbortSignal, ns?: string): Promise<string | undefined> {
  const out = await ip(['-j', 'route', 'show', 'default'], signal, ns).catch(() => '[]');
  const routes = JSON.parse(out || '[]') as { dev?: string }[];
  return routes[0]?.dev;
}

/** A short random suffix for probe interface names. */
export function probeName(prefix: string): string {
  return `${prefix}${Math.floor(Math.random() * 0xffff).toString(16)}`;
}
