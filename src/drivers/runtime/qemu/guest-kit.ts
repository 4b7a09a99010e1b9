/**
 * The guest kit: the kernel and initramfs every microVM boots by default,
 * built on the host from Debian packages only (linux-image-cloud-amd64 for
 * the kernel and its modules, busybox-static for the initramfs userland).
 *
 *   <cacheRoot>/<hash>/vmlinuz      the packaged kernel (bzImage)
 *   <cacheRoot>/<hash>/vmlinux      the same kernel uncompressed (PVH direct boot, ~0.3 s faster)
 *   <cacheRoot>/<hash>/initrd.img   gzip'd newc cpio: busybox, /init, stage2, modules + load-order
 *   <cacheRoot>/<hash>/kit.json     what was built from what
 *
 * `<hash>` covers every input (kernel, modules, busybox, scripts, format), so
 * a rebuild happens only when one of them changed; a cached kit costs two
 * file hashes (~20 ms).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OneError } from '../../../core/errors.js';
import { STAGE1, STAGE2 } from './guest-scripts.js';

/** Bump when the kit's layout or build changes in a way the inputs do not show. */
const KIT_FORMAT = 1;

/**
 * Modules the guest needs (dependencies are added from modules.dep): virtio
 * transport and devices, the ACPI power button with evdev for acpid, ISO 9660
 * for the context volume, vfat for context volumes made that way.
 */
export const GUEST_MODULES = [
  'virtio_mmio',
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'virtio_rng',
  'virtio_balloon',
  'button',
  'evdev',
  'isofs',
  'vfat',
  'nls_cp437',
  'nls_ascii',
] as const;

export interface GuestKit {
  dir: string;
  hash: string;
  kernelVersion: string;
  /** The compressed kernel (bzImage). */
  kernel: string;
  /** The uncompressed ELF kernel, when it could be extracted. */
  vmlinux?: string;
  initrd: string;
  /** Modules in load order (file names inside the initramfs). */
  modules: string[];
}

export interface GuestKitOptions {
  /** Where kits are cached (one sub-directory per content hash). */
  cacheRoot: string;
  /** Root of the unpacked kernel package (default '/': /boot and /lib/modules of the installed package). */
  kernelRoot?: string;
  /** A kernel version under <kernelRoot>/lib/modules (default: the newest that also has /boot/vmlinuz-*). */
  kernelVersion?: string;
  /** Static busybox (default /bin/busybox). */
  busybox?: string;
}

const normalise = (name: string): string => name.replaceAll('-', '_');

function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return normalise(base.replace(/\.ko(\.(xz|zst|gz))?$/, ''));
}

/**
 * The load order for `wanted` from a modules.dep text: every module after all
 * of its dependencies (depth first), each once. Unknown names are returned in
 * `missing` (built into the kernel, or not shipped). Paths are relative to the
 * modules directory.
 */
export function resolveModules(modulesDep: string, wanted: readonly string[]): { order: string[]; missing: string[] } {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const rest = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    deps.set(moduleName(path), { path, deps: rest.map(moduleName) });
  }
  const order: string[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const key = normalise(name);
    if (seen.has(key)) return;
    if (chain.includes(key))
      throw new OneError('E_DRIVER_FAILED', `module dependency cycle: ${[...chain, key].join(' → ')}`);
    const entry = deps.get(key);
    if (!entry) {
      missing.push(name);
      seen.add(key);
      return;
    }
    for (const d of entry.deps) visit(d, [...chain, key]);
    seen.add(key);
    order.push(entry.path);
  };
  for (const name of wanted) visit(name, []);
  return { order, missing };
}

export interface CpioEntry {
  name: string;
  /** File type and permission bits (e.g. 0o100755 file, 0o40755 dir, 0o20600 char device, 0o120777 symlink). */
  mode: number;
  data?: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

/** A newc ("070701") cpio archive, as the kernel unpacks initramfs images. Deterministic: mtime 0. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const pad = (): void => {
    const n = (4 - (offset % 4)) % 4;
    if (n) push(Buffer.alloc(n));
  };
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = (e as CpioEntry).data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const header =
      '070701' +
      hex(e.name === 'TRAILER!!!' ? 0 : ino++) +
      hex(e.mode) +
      hex(0) + // uid
      hex(0) + // gid
      hex(1) + // nlink
      hex(0) + // mtime
      hex(data.length) +
      hex(0) +
      hex(0) +
      hex((e as CpioEntry).rdevMajor ?? 0) +
      hex((e as CpioEntry).rdevMinor ?? 0) +
      hex(name.length) +
      hex(0);
    push(Buffer.from(header, 'ascii'));
    push(name);
    pad();
    if (data.length) {
      push(data);
      pad();
    }
  }
  return Buffer.concat(parts);
}

/** LZ4 legacy-frame magic, as the kernel's `vmlinuz` embeds its LZ4-compressed payload. */
const LZ4_MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Pipes `input` through `argv` and returns its stdout (the exit code is ignored: trailing data makes lz4 complain). */
function filter(argv: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(out)));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * The uncompressed ELF kernel inside a bzImage whose payload is LZ4 (Debian's
 * cloud kernel), or undefined when none decompresses to an ELF. Uses the lz4
 * tool; the kernel still boots from the bzImage without it.
 */
export async function extractVmlinux(bzImage: Buffer): Promise<Buffer | undefined> {
  for (let at = bzImage.indexOf(LZ4_MAGIC); at >= 0; at = bzImage.indexOf(LZ4_MAGIC, at + 1)) {
    const out = await filter(['lz4', '-dc'], bzImage.subarray(at)).catch(() => Buffer.alloc(0));
    if (out.length > 1024 * 1024 && out.subarray(0, 4).equals(ELF_MAGIC)) return out;
  }
  return undefined;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The newest kernel version that has both its modules and /boot/vmlinuz-<version>. */
async function pickKernel(kernelRoot: string): Promise<string> {
  const versions = await readdir(join(kernelRoot, 'lib/modules')).catch(() => [] as string[]);
  const usable = versions.filter((v) => existsSync(join(kernelRoot, 'boot', `vmlinuz-${v}`))).sort();
  const last = usable[usable.length - 1];
  if (!last) {
    throw new OneError(
      'E_DRIVER_FAILED',
      `no kernel with modules under ${kernelRoot}: install linux-image-cloud-amd64 (scripts/up does)`,
      { kernelRoot },
    );
  }
  return last;
}

/**
 * Builds the guest kit, or returns the cached one with the same inputs.
 * Concurrent callers in one process share one build (see ensureGuestKit).
 */
export async function buildGuestKit(options: GuestKitOptions): Promise<GuestKit> {
  const kernelRoot = options.kernelRoot ?? '/';
  const kernelVersion = options.kernelVersion ?? (await pickKernel(kernelRoot));
  const busyboxPath = options.busybox ?? '/bin/busybox';
  const modDir = join(kernelRoot, 'lib/modules', kernelVersion);
  const vmlinuzPath = join(kernelRoot, 'boot', `vmlinuz-${kernelVersion}`);
  const [vmlinuz, busybox, modulesDep] = await Promise.all([
    readFile(vmlinuzPath),
    readFile(busyboxPath).catch((err: unknown) => {
      throw new OneError(
        'E_DRIVER_FAILED',
        `no static busybox at ${busyboxPath}: install busybox-static`,
        {},
        { cause: err },
      );
    }),
    readFile(join(modDir, 'modules.dep'), 'utf8'),
  ]);
  const { order } = resolveModules(modulesDep, GUEST_MODULES);
  const hash = sha256(
    JSON.stringify({
      format: KIT_FORMAT,
      kernel: sha256(vmlinuz),
      busybox: sha256(busybox),
      stage1: sha256(STAGE1),
      stage2: sha256(STAGE2),
      modules: order,
    }),
  ).slice(0, 20);
  const dir = join(options.cacheRoot, hash);
  const manifest = join(dir, 'kit.json');
  if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as GuestKit;

  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const entries: CpioEntry[] = [];
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'newroot', 'run', 'lib', 'lib/modules']) {
      entries.push({ name: d, mode: 0o40755 });
    }
    entries.push({ name: 'dev/console', mode: 0o20600, rdevMajor: 5, rdevMinor: 1 });
    entries.push({ name: 'bin/busybox', mode: 0o100755, data: busybox });
    entries.push({ name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') });
    entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(STAGE1) });
    entries.push({ name: 'stage2', mode: 0o100755, data: Buffer.from(STAGE2) });
    const names: string[] = [];
    for (const rel of order) {
      let data: Buffer = await readFile(join(modDir, rel));
      let base = rel.slice(rel.lastIndexOf('/') + 1);
      const compressed = /\.(xz|zst|gz)$/.exec(base);
      if (compressed) {
        const tool = { xz: ['xz', '-dc'], zst: ['zstd', '-qdc'], gz: ['gzip', '-dc'] }[compressed[1] as 'xz'];
        data = await filter(tool, data);
        base = base.slice(0, -compressed[0].length);
      }
      entries.push({ name: `lib/modules/${base}`, mode: 0o100644, data });
      names.push(base);
    }
    entries.push({ name: 'lib/modules/load-order', mode: 0o100644, data: Buffer.from(`${names.join('\n')}\n`) });
    await writeFile(join(tmp, 'initrd.img'), gzipSync(writeCpio(entries), { level: 6 }));
    await writeFile(join(tmp, 'vmlinuz'), vmlinuz);
    const vmlinux = await extractVmlinux(vmlinuz);
    if (vmlinux) await writeFile(join(tmp, 'vmlinux'), vmlinux);
    const kit: GuestKit = {
      dir,
      hash,
      kernelVersion,
      kernel: join(dir, 'vmlinuz'),
      ...(vmlinux ? { vmlinux: join(dir, 'vmlinux') } : {}),
      initrd: join(dir, 'initrd.img'),
      modules: names,
    };
    await writeFile(join(tmp, 'kit.json'), `${JSON.stringify(kit, null, 2)}\n`);
    await rename(tmp, dir).catch(async (err: unknown) => {
      // Another process finished the same kit first: use theirs.
      if (!existsSync(manifest)) throw err;
    });
    return kit;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const building = new Map<string, Promise<GuestKit>>();

/** buildGuestKit, with one build at a time per cache root in this process. */
export function ensureGuestKit(options: GuestKitOptions): Promise<GuestKit> {
  const key = `${options.cacheRoot}|${options.kernelRoot ?? '/'}|${options.kernelVersion ?? ''}`;
  let p = building.get(key);
  if (!p) {
    p = buildGuestKit(options).finally(() => building.delete(key));
    building.set(key, p);
  }
  return p;
}
