import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type QemuLaunch, qemuArgv, sharedMemoryArgs, vhostUserNicArgs } from './qemu-args.js';

const base: QemuLaunch = {
  binary: 'qemu-system-x86_64',
  name: 'one-9',
  accel: 'tcg',
  machine: 'microvm',
  vcpu: 1,
  threads: 1,
  memoryMb: 128,
  kernel: '/k/vmlinux',
  cmdline: ['console=ttyS0'],
  disks: [],
  nics: [
    { id: 'net0', tap: 'unused', mac: '02:00:c0:a8:46:0a', vhostUser: '/s/vhu/vm9-nic0.sock' },
    { id: 'net1', tap: 'oe9n1', mac: '02:00:c0:a8:46:0b' },
  ],
  logPath: '/w/console.log',
  qmpSocket: '/w/qmp.sock',
  pidFile: '/w/qemu.pid',
};

const after = (argv: string[], flag: string): string[] =>
  argv.flatMap((a, i) => (a === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));

describe('qemu argv for vhost-user NICs', () => {
  it('QEMU serves the socket without waiting; the netdev is vhost-user; a tap NIC beside it stays a tap', () => {
    const argv = qemuArgv(base);
    assert.deepEqual(after(argv, '-chardev').slice(1), [
      'socket,id=chr-net0,path=/s/vhu/vm9-nic0.sock,server=on,wait=off',
    ]);
    assert.deepEqual(after(argv, '-netdev'), [
      'vhost-user,id=net0,chardev=chr-net0',
      'tap,id=net1,ifname=oe9n1,script=no,downscript=no',
    ]);
    assert.ok(after(argv, '-device').includes('virtio-net-device,netdev=net0,mac=02:00:c0:a8:46:0a'));
  });

  it('guest memory is a shared memfd backend (the switch maps the virtio rings), one -m, no plain RAM backend', () => {
    const argv = qemuArgv(base);
    assert.deepEqual(after(argv, '-object'), ['memory-backend-memfd,id=ram0,size=128M,share=on']);
    assert.deepEqual(after(argv, '-machine'), ['memory-backend=ram0']);
    assert.deepEqual(after(argv, '-m'), ['128']);
  });

  it('pinned memory nodes bind the shared backend; q35 uses virtio-net-pci', () => {
    assert.deepEqual(sharedMemoryArgs({ memoryMb: 256, memoryNodes: [0, 1] }).slice(0, 2), [
      '-object',
      'memory-backend-memfd,id=ram0,size=256M,share=on,host-nodes=0,1,policy=bind',
    ]);
    const nic = { id: 'net3', tap: '', mac: '02:00:00:00:00:01', vhostUser: '/s/x.sock' };
    assert.equal(vhostUserNicArgs(nic, 'pci').at(-1), 'virtio-net-pci,netdev=net3,mac=02:00:00:00:00:01');
  });

  it('without vhost-user NICs nothing changes: plain -m, no memfd', () => {
    const argv = qemuArgv({ ...base, nics: [{ id: 'net0', tap: 'oe9n0', mac: '02:00:00:00:00:02' }] });
    assert.deepEqual(after(argv, '-object'), []);
    assert.deepEqual(after(argv, '-m'), ['128']);
  });
});
