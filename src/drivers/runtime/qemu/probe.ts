/**
 * Whether QEMU really runs guests on this host, and with which accelerator:
 * a real boot of the guest kit's initramfs (`oneedge.probe=1` makes it print
 * ONEEDGE-PROBE-OK and power off). KVM counts only when that boot works under
 * KVM — /dev/kvm existing is not enough (nested hosts expose a KVM that cannot
 * run guests).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { GuestKit } from './guest-kit.js';
import { PROBE_MARK } from './guest-scripts.js';
import { type Accel, kernelCmdline } from './qemu-args.js';

export interface QemuProbe {
  usable: boolean;
  reason?: string;
  version?: string;
  accel?: Accel;
  /** Whether a KVM boot was tried and worked; the reason when it did not. */
  kvm: boolean;
  kvmReason?: string;
  bootMs?: number;
}

/** The host TSC rate in kHz from /proc/cpuinfo (TCG guests must be told it), or undefined. */
export async function hostTscKhz(): Promise<number | undefined> {
  const text = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

function run(argv: string[], timeoutMs: number, signal: AbortSignal): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', (err) => {
      if (signal.aborted) reject(signal.reason);
      else resolve({ code: null, out: `${out}\n${err.message}` });
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

async function bootOnce(
  binary: string,
  kit: GuestKit,
  accel: Accel,
  tscKhz: number | undefined,
  signal: AbortSignal,
): Promise<{ ok: boolean; ms: number; detail: string }> {
  const t0 = performance.now();
  const cmdline = kernelCmdline({ accel, machine: 'microvm', ...(tscKhz ? { tscKhz } : {}) }, ['oneedge.probe=1']);
  const argv = [
    binary,
    '-M',
    'microvm,acpi=on,rtc=on',
    '-accel',
    accel === 'kvm' ? 'kvm' : 'tcg,tb-size=32',
    '-cpu',
    accel === 'kvm' ? 'host' : 'max',
    '-m',
    '128',
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    'stdio',
    '-kernel',
    kit.vmlinux ?? kit.kernel,
    '-initrd',
    kit.initrd,
    '-append',
    cmdline.join(' '),
  ];
  const { out } = await run(argv, 30_000, signal);
  const ok = out.includes(PROBE_MARK);
  const last = out.trim().split('\n').slice(-3).join(' | ');
  return { ok, ms: Math.round(performance.now() - t0), detail: ok ? '' : last || 'no output' };
}

export async function probeQemu(
  binary: string,
  kit: () => Promise<GuestKit>,
  options: { tryKvm: boolean },
  signal: AbortSignal,
): Promise<QemuProbe> {
  const version = await run([binary, '--version'], 10_000, signal);
  if (version.code !== 0) {
    return { usable: false, kvm: false, reason: `${binary} does not run: ${version.out.trim().slice(0, 200)}` };
  }
  const v = /version ([\d.]+)/.exec(version.out)?.[1] ?? 'unknown';
  let guest: GuestKit;
  try {
    guest = await kit();
  } catch (err) {
    return { usable: false, kvm: false, reason: `no guest kit: ${err instanceof Error ? err.message : String(err)}` };
  }
  const tsc = await hostTscKhz();
  let kvm = false;
  let kvmReason: string | undefined;
  if (!options.tryKvm) kvmReason = 'not tried';
  else if (
    !(await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ))
  )
    kvmReason = '/dev/kvm is missing or not accessible';
  else {
    const k = await bootOnce(binary, guest, 'kvm', tsc, signal);
    kvm = k.ok;
    if (k.ok) return { usable: true, kvm: true, accel: 'kvm', version: `${v} (kvm)`, bootMs: k.ms };
    kvmReason = `a KVM probe boot failed: ${k.detail.slice(0, 200)}`;
  }
  const t = await bootOnce(binary, guest, 'tcg', tsc, signal);
  if (!t.ok) return { usable: false, kvm, kvmReason, reason: `a TCG probe boot failed: ${t.detail.slice(0, 300)}` };
  return { usable: true, kvm, ...(kvmReason ? { kvmReason } : {}), accel: 'tcg', version: `${v} (tcg)`, bootMs: t.ms };
}
