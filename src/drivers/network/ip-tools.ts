import { CommandError, runCommand } from '../runtime/exec.js';

/** `ip …` in the agent's network namespace; argv only. */
export async function ip(args: readonly string[], signal: AbortSignal): Promise<string> {
  return (await runCommand(['ip', ...args], signal)).stdout;
}

export async function linkExists(name: string, signal: AbortSignal): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', name], signal);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** Deletes a link; a link that is already gone is fine. */
export async function deleteLink(name: string, signal: AbortSignal): Promise<void> {
  if (await linkExists(name, signal)) await ip(['link', 'del', 'dev', name], signal);
}

/** Creates a Linux bridge if missing and brings it up. */
export async function ensureBridge(name: string, signal: AbortSignal): Promise<void> {
  if (!(await linkExists(name, signal))) {
    try {
      await ip(['link', 'add', 'name', name, 'type', 'bridge'], signal);
    } catch (err) {
      // Another plan created it meanwhile.
      if (!(await linkExists(name, signal))) throw err;
    }
  }
  await ip(['link', 'set', 'dev', name, 'up'], signal);
}

/** The interface of the default route (the uplink), if any. */
export async function defaultInterface(signal: AbortSignal): Promise<string | undefined> {
  const out = await ip(['-j', 'route', 'show', 'default'], signal).catch(() => '[]');
  const routes = JSON.parse(out || '[]') as { dev?: string }[];
  return routes[0]?.dev;
}

/** A short random suffix for probe interface names. */
export function probeName(prefix: string): string {
  return `${prefix}${Math.floor(Math.random() * 0xffff).toString(16)}`;
}
