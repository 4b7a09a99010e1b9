/**
 * Image content formats ONEedge stores and how to tell them apart from the
 * first bytes of a file (no external tool needed for the common cases).
 */
export const IMAGE_FORMATS = ['raw', 'qcow2', 'rootfs-tar', 'iso'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** Bytes of a file's head that {@link detectImageFormat} needs. */
export const FORMAT_PROBE_BYTES = 0x8006;

const QCOW2_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"

function at(head: Uint8Array, offset: number, ascii: string): boolean {
  if (head.length < offset + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (head[offset + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/**
 * The format of an image from its first bytes: qcow2 by its magic, a POSIX
 * tar (root filesystem) by `ustar` at 257, an ISO 9660 CD by `CD001` at
 * 0x8001; anything else is raw (a disk or filesystem image).
 */
export function detectImageFormat(head: Uint8Array): ImageFormat {
  if (QCOW2_MAGIC.every((b, i) => head[i] === b)) return 'qcow2';
  if (at(head, 257, 'ustar')) return 'rootfs-tar';
  if (at(head, 0x8001, 'CD001')) return 'iso';
  return 'raw';
}

/** Accepts the user's spelling of a format (FORMAT attribute / DRIVER). */
export function parseImageFormat(value: string | undefined): ImageFormat | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'tar' || v === 'rootfs' || v === 'rootfs-tar') return 'rootfs-tar';
  return (IMAGE_FORMATS as readonly string[]).includes(v) ? (v as ImageFormat) : undefined;
}
