/**
 * Disks of a microVM: the root disk made from an image's root filesystem
 * (an ext4 file built once per image with `mkfs.ext4 -d`, then shared), and a
 * qcow2 copy-on-write overlay per VM over every non-persistent disk, so VMs
 * never write into a shared image.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../exec.js';

/** Free space a root disk gets on top of its files: the guest writes logs, packages, data. */
const ROOT_HEADROOM_MB = 512;

const building = new Map<string, Promise<string>>();

/** The ext4 base disk of a root filesystem directory, built on first use. Same rootfs → same file. */
export function baseDiskFor(rootfs: string, cacheDir: string, signal: AbortSignal): Promise<string> {
  const key = createHash('sha256').update(rootfs).digest('hex').slice(0, 24);
  const path = join(cacheDir, `${key}.ext4`);
  if (existsSync(path)) return Promise.resolve(path);
  let p = building.get(path);
  if (!p) {
    p = buildExt4(rootfs, path, signal).finally(() => building.delete(path));
    building.set(path, p);
  }
  return p;
}

async function buildExt4(rootfs: string, path: string, signal: AbortSignal): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const { stdout } = await runCommand(['du', '-sm', rootfs], signal);
  const usedMb = Number(stdout.split(/\s/)[0]) || 1;
  const sizeMb = Math.ceil((usedMb * 1.3 + ROOT_HEADROOM_MB) / 64) * 64;
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await rm(tmp, { force: true });
    // A sparse file: only written blocks take space.
    await runCommand(['truncate', '-s', `${sizeMb}M`, tmp], signal);
    await runCommand(
      ['mkfs.ext4', '-q', '-F', '-L', 'oneedge-root', '-E', 'root_owner=0:0', '-d', rootfs, tmp],
      signal,
    );
    await rename(tmp, path);
    return path;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A qcow2 overlay at `path` whose backing file is `base` (left as it is). Idempotent. */
export async function createOverlay(
  base: string,
  baseFormat: 'raw' | 'qcow2',
  path: string,
  signal: AbortSignal,
): Promise<void> {
  if (existsSync(path)) return;
  const tmp = `${path}.tmp`;
  await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', baseFormat, '-b', base, tmp], signal);
  await rename(tmp, path);
}
