/**
 * The default container image: a minimal root filesystem made from Debian's
 * busybox-static (/bin/busybox), plus packing it to a tarball (the front-end
 * registers that as the default image) and unpacking it into an agent's
 * image cache. Nothing is downloaded.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, open, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { OneError } from '../../core/errors.js';

const execFileAsync = promisify(execFile);

export const DEFAULT_BUSYBOX = '/bin/busybox';

/** Directories every image has; mount points the runtime needs exist up front. */
const DIRS: [string, number][] = [
  ['bin', 0o755],
  ['sbin', 0o755],
  ['usr/bin', 0o755],
  ['usr/sbin', 0o755],
  ['etc', 0o755],
  ['root', 0o700],
  ['tmp', 0o1777],
  ['var/tmp', 0o1777],
  ['var/log', 0o755],
  ['run', 0o755],
  ['proc', 0o555],
  ['sys', 0o555],
  ['dev', 0o755],
  ['context', 0o755],
  ['home', 0o755],
];

const FILES: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  'etc/hostname': 'oneedge\n',
  'etc/resolv.conf': '',
  'etc/profile': 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n',
};

/**
 * True when the ELF file at `path` has no PT_INTERP program header, i.e. it
 * runs without a dynamic loader (a dynamic busybox would fail inside an image
 * that has no /lib).
 */
export async function isStaticElf(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    await file.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // ELF, 64-bit only
    const little = header[5] === 1;
    const u16 = (b: Buffer, o: number): number => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number): number => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = Number(little ? header.readBigUInt64LE(32) : header.readBigUInt64BE(32));
    const phentsize = u16(header, 54);
    const phnum = u16(header, 56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (u32(table, i * phentsize) === 3) return false; // PT_INTERP
    }
    return true;
  } finally {
    await file.close();
  }
}

/** Applet paths relative to the root (`bin/sh`, `usr/bin/wget` …), from `busybox --list-full`. */
export async function listApplets(busybox: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync(busybox, ['--list-full']);
    return stdout.split('\n').filter((l) => l !== '' && !l.endsWith('/busybox'));
  } catch {
    // Builds without --list-full: every applet in bin/.
    const { stdout } = await execFileAsync(busybox, ['--list']);
    return stdout
      .split('\n')
      .filter((l) => l !== '' && l !== 'busybox')
      .map((l) => `bin/${l}`);
  }
}

export interface BuildRootfsOptions {
  /** Static busybox to copy (default /bin/busybox from busybox-static). */
  busybox?: string;
}

/**
 * Builds a root filesystem in `dir` (created; must not hold another image):
 * bin/busybox, a relative symlink per applet, /etc/passwd and /etc/group, and
 * the usual empty mount points. Returns the number of applets linked.
 */
export async function buildBusyboxRootfs(dir: string, options: BuildRootfsOptions = {}): Promise<{ applets: number }> {
  const busybox = options.busybox ?? DEFAULT_BUSYBOX;
  try {
    if (!(await isStaticElf(busybox))) {
      throw new OneError('E_DRIVER_FAILED', `${busybox} is not a static binary (install busybox-static)`, { busybox });
    }
  } catch (err) {
    if (err instanceof OneError) throw err;
    throw new OneError(
      'E_DRIVER_FAILED',
      `cannot read ${busybox} (install busybox-static)`,
      { busybox },
      { cause: err },
    );
  }
  for (const [path, mode] of DIRS) {
    await mkdir(join(dir, path), { recursive: true });
    await chmod(join(dir, path), mode);
  }
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const [path, content] of Object.entries(FILES)) await writeFile(join(dir, path), content, { mode: 0o644 });
  const applets = await listApplets(busybox);
  for (const applet of applets) {
    const link = join(dir, applet);
    await mkdir(dirname(link), { recursive: true });
    await rm(link, { force: true });
    await symlink(relative(dirname(link), join(dir, 'bin/busybox')), link);
  }
  return { applets: applets.length };
}

/** Packs `dir` into `tarPath` (gzip-compressed when the name ends in .gz or .tgz), symlinks kept as links. */
export async function packRootfs(dir: string, tarPath: string): Promise<void> {
  await mkdir(dirname(tarPath), { recursive: true });
  const tmp = `${tarPath}.tmp-${process.pid}`;
  const gzip = /\.(t?gz)$/.test(tarPath);
  await tar.c({ file: tmp, cwd: dir, gzip, portable: true }, ['.']);
  await rename(tmp, tarPath);
}

/**
 * Unpacks an image tarball into `dir`, atomically: extraction goes to a
 * sibling temp directory renamed into place, so a crash never leaves a
 * half-extracted image that looks complete. An existing `dir` is kept as is.
 */
export async function unpackRootfs(tarPath: string, dir: string): Promise<void> {
  if (await exists(dir)) return;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await tar.x({ file: tarPath, cwd: tmp, strict: true, preserveOwner: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (await exists(dir)) return; // another unpack won the race
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
