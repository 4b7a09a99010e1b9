import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelCmdline, type QemuLaunch, qemuArgv } from './qemu-args.js';

const base: QemuLaunch = {
  binary: 'qemu-system-x86_64',
  name: 'one-7',
  accel: 'tcg',
  tscKhz: 2300000,
  machine: 'microvm',
  vcpu: 2,
  threads: 1,
  memoryMb: 128,
  kernel: '/k/vmlinux',
  initrd: '/k/initrd.img',
  cmdline: ['console=ttyS0', 'root=/dev/vda'],
  disks: [{ id: 'root', file: '/w/root.qcow2', format: 'qcow2', readOnly: false }],
  nics: [{ id: 'net0', tap: 'one-7-0', mac: '02:00:0a:00:00:07' }],
  logPath: '/w/console.log',
  qmpSocket: '/w/qmp.sock',
  pidFile: '/w/qemu.pid',
};

const after = (argv: string[], flag: string): string[] =>
  argv.flatMap((a, i) => (a === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));

describe('qemu argv', () => {
  it('microvm: virtio-mmio devices, TCG with a small translation cache, daemonized with QMP', () => {
    const argv = qemuArgv(base);
    assert.deepEqual(after(argv, '-M'), ['microvm,acpi=on,rtc=on']);
    assert.deepEqual(after(argv, '-accel'), ['tcg,tb-size=32']);
    assert.deepEqual(after(argv, '-device'), [
      'virtio-blk-device,drive=root',
      'virtio-net-device,netdev=net0,mac=02:00:0a:00:00:07',
      'virtio-rng-device',
    ]);
    assert.deepEqual(after(argv, '-netdev'), ['tap,id=net0,ifname=one-7-0,script=no,downscript=no']);
    assert.deepEqual(after(argv, '-qmp'), ['unix:/w/qmp.sock,server=on,wait=off']);
    assert.ok(argv.includes('-daemonize') && argv.includes('-no-reboot'));
    assert.deepEqual(after(argv, '-smp'), ['2,sockets=1,cores=2,threads=1']);
  });

  it('q35 for disks with their own bootloader: virtio-pci, no kernel', () => {
    const { kernel: _k, initrd: _i, ...rest } = base;
    const argv = qemuArgv({ ...rest, machine: 'q35' });
    assert.deepEqual(after(argv, '-M'), ['q35']);
    assert.ok(!argv.includes('-kernel'));
    assert.ok(after(argv, '-device').includes('virtio-blk-pci,drive=root'));
  });

  it('KVM uses the host CPU; memory nodes bind guest RAM; threads per core', () => {
    const argv = qemuArgv({ ...base, accel: 'kvm', memoryNodes: [0], vcpu: 4, threads: 2 });
    assert.deepEqual(after(argv, '-accel'), ['kvm']);
    assert.deepEqual(after(argv, '-cpu'), ['host']);
    assert.ok(after(argv, '-object')[0]?.includes('host-nodes=0,policy=bind'));
    assert.deepEqual(after(argv, '-smp'), ['4,sockets=1,cores=2,threads=2']);
  });

  it('TCG guests get the host TSC rate (parallel boots hang without it); VNC adds a text console', () => {
    const tcg = kernelCmdline({ accel: 'tcg', tscKhz: 2096000, machine: 'microvm' }, ['root=/dev/vda']);
    assert.ok(tcg.includes('tsc_early_khz=2096000') && tcg.includes('tsc=reliable'));
    assert.ok(!kernelCmdline({ accel: 'kvm', machine: 'microvm' }, []).some((a) => a.startsWith('tsc')));
    const vnc = kernelCmdline({ accel: 'tcg', machine: 'microvm', vncSocket: '/w/vnc.sock' }, []);
    assert.deepEqual(vnc.slice(0, 2), ['console=ttyS0', 'oneedge.tty=ttyS0']);
    const argv = qemuArgv({ ...base, vncSocket: '/w/vnc.sock' });
    assert.deepEqual(after(argv, '-chardev'), ['vc,id=con0,cols=80,rows=25,logfile=/w/console.log,logappend=on']);
    assert.deepEqual(after(argv, '-vnc'), ['unix:/w/vnc.sock']);
  });
});
