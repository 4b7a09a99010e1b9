import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxRootfs, packRootfs } from '../drivers/runtime/busybox-rootfs.js';

/**
 * Builds the built-in base image: a busybox root filesystem from Debian's
 * busybox-static, packed as a tarball at `tarPath` (what the marketplace's
 * OCI conversion also produces, so agents treat both alike).
 */
export async function buildBusyboxRootfsTar(tarPath: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'oneedge-rootfs-'));
  try {
    await buildBusyboxRootfs(dir);
    await packRootfs(dir, tarPath);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
