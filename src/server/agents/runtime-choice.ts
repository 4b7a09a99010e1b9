import { getString } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';

/** Preferred order when a host offers several runtimes. */
export const RUNTIME_PREFERENCE = ['crun', 'runc', 'qemu', 'mock'];

/** The runtime a VM runs with on a host: its RUNTIME attribute, else the host's preferred offer. */
export function runtimeFor(template: Template, offered: readonly string[]): string {
  const wanted = getString(template, 'RUNTIME');
  return wanted ?? RUNTIME_PREFERENCE.find((r) => offered.includes(r)) ?? offered[0] ?? 'crun';
}
