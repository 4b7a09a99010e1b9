/**
 * The CONTEXT volume of a microVM: an ISO 9660 image with volume id CONTEXT
 * (like OpenNebula's context CD) holding context.sh (`KEY='value'` lines), the
 * workload's extra environment and command, and any context files. The guest
 * kit's stage 2 finds it by its label and copies it to /context.
 */
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { OneError } from '../../../core/errors.js';
import { renderContextSh, shellQuote } from '../context-files.js';
import { runCommand } from '../exec.js';

export interface ContextVolumeInput {
  context: Record<string, string>;
  env: Record<string, string>;
  /** argv of the workload command; its exit powers the VM off. */
  command?: string[];
  /** Host files copied onto the volume (OpenNebula FILES_DS), by their base name. */
  files?: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `export KEY='value'` lines for the workload's environment. */
export function renderEnv(env: Record<string, string>): string {
  const lines: string[] = [];
  for (const key of Object.keys(env).sort()) {
    if (!NAME.test(key)) {
      throw new OneError('E_VALIDATION', `environment variable name ${JSON.stringify(key)} is not a shell name`, {
        key,
      });
    }
    lines.push(`${key}=${shellQuote(env[key] ?? '')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A shell script that execs `argv` exactly (every word single-quoted). */
export function renderCommand(argv: readonly string[]): string {
  return `exec ${argv.map(shellQuote).join(' ')}\n`;
}

/** Writes the ISO to `isoPath` (replacing it), staging its files in `stageDir`. */
export async function writeContextVolume(
  input: ContextVolumeInput,
  stageDir: string,
  isoPath: string,
  signal: AbortSignal,
): Promise<void> {
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true, mode: 0o700 });
  await writeFile(join(stageDir, 'context.sh'), renderContextSh(input.context), { mode: 0o644 });
  await writeFile(join(stageDir, '.oneedge-env'), renderEnv(input.env), { mode: 0o644 });
  if (input.command && input.command.length > 0) {
    await writeFile(join(stageDir, '.oneedge-command'), renderCommand(input.command), { mode: 0o755 });
  }
  for (const file of input.files ?? []) {
    const name = basename(file);
    if (name === 'context.sh' || name.startsWith('.oneedge')) {
      throw new OneError('E_VALIDATION', `context file ${file} would replace ${name}`, { file });
    }
    await copyFile(file, join(stageDir, name));
  }
  const tmp = `${isoPath}.tmp`;
  await runCommand(['genisoimage', '-quiet', '-o', tmp, '-V', 'CONTEXT', '-J', '-R', stageDir], signal);
  await rename(tmp, isoPath);
  await rm(stageDir, { recursive: true, force: true });
}
