/**
 * Tap devices for microVM NICs, made in the workload's network namespace and
 * attached to a bridge there. Persistent taps (made with `ip tuntap`) so the
 * bridge port exists before QEMU opens it; removed when the VM stops.
 */
import { OneError } from '../../../core/errors.js';
import { CommandError, runCommand } from '../exec.js';

/** argv prefix that runs a command in `netns` (a path), or nothing for the host namespace. */
export function inNetns(netns: string | undefined): string[] {
  return netns && netns !== 'host' ? ['nsenter', `--net=${netns}`, '--'] : [];
}

/** Linux interface names: at most 15 characters. */
export function tapName(vmId: number, index: number): string {
  const name = `one-${vmId}-${index}`;
  if (name.length > 15) throw new OneError('E_VALIDATION', `tap name ${name} is longer than 15 characters`, { vmId });
  return name;
}

/**
 * Asks `ip`, not /sys/class/net: an agent that entered a network namespace
 * with `nsenter --net` still sees the sysfs of the namespace it came from.
 */
async function linkExists(netns: string | undefined, name: string, signal: AbortSignal): Promise<boolean> {
  try {
    await runCommand([...inNetns(netns), 'ip', 'link', 'show', 'dev', name], signal);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

export async function ensureTap(
  netns: string | undefined,
  tap: { name: string; bridge: string; mtu?: number },
  signal: AbortSignal,
): Promise<void> {
  const ns = inNetns(netns);
  if (!(await linkExists(netns, tap.name, signal))) {
    await runCommand([...ns, 'ip', 'tuntap', 'add', 'dev', tap.name, 'mode', 'tap'], signal);
  }
  const mtu = tap.mtu ? ['mtu', String(tap.mtu)] : [];
  await runCommand([...ns, 'ip', 'link', 'set', 'dev', tap.name, 'master', tap.bridge, ...mtu, 'up'], signal);
}

export async function removeTap(netns: string | undefined, name: string, signal: AbortSignal): Promise<void> {
  if (!(await linkExists(netns, name, signal))) return;
  await runCommand([...inNetns(netns), 'ip', 'link', 'del', 'dev', name], signal).catch(async (err: unknown) => {
    if (await linkExists(netns, name, signal)) throw err;
  });
}
