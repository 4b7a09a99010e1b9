import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOneError } from '../../../core/errors.js';
import type { MachineDevice, WorkloadSpec } from '../types.js';
import {
  attachDevice,
  CONTEXT_HEADROOM,
  coldplugArgs,
  detachDevice,
  freeSlot,
  HOTPLUG_SLOTS,
  type LiveMachine,
  plugCommands,
  releaseCommands,
  reserveContextRoom,
  slotArgs,
} from './hotplug.js';
import { kernelCmdline, qemuArgv } from './qemu-args.js';

const disk: MachineDevice = {
  id: 'disk3',
  slot: 1,
  disk: { path: '/w/disks/disk.3.qcow2', format: 'qcow2', persistent: true, serial: 'vdc' },
};
const nic: MachineDevice = { id: 'nic1', slot: 0, nic: { tap: 'oe7n1', mac: '02:00:0A:00:00:07' } };

describe('qemu hot-plug: commands', () => {
  it('a disk: blockdev-add of its node, then a virtio-blk-pci on its slot with the target as serial', () => {
    assert.deepEqual(plugCommands(disk), [
      {
        execute: 'blockdev-add',
        arguments: {
          driver: 'qcow2',
          'node-name': 'disk3-node',
          'read-only': false,
          file: { driver: 'file', filename: '/w/disks/disk.3.qcow2', aio: 'threads' },
        },
      },
      {
        execute: 'device_add',
        arguments: { driver: 'virtio-blk-pci', id: 'disk3', bus: 'hp1', drive: 'disk3-node', serial: 'vdc' },
      },
    ]);
    assert.deepEqual(releaseCommands(disk), [{ execute: 'blockdev-del', arguments: { 'node-name': 'disk3-node' } }]);
  });

  it('a NIC: netdev_add of the agent-made tap, then a virtio-net-pci with the lease MAC (lower case)', () => {
    assert.deepEqual(plugCommands(nic), [
      {
        execute: 'netdev_add',
        arguments: { type: 'tap', id: 'nic1-net', ifname: 'oe7n1', script: 'no', downscript: 'no' },
      },
      {
        execute: 'device_add',
        arguments: { driver: 'virtio-net-pci', id: 'nic1', bus: 'hp0', netdev: 'nic1-net', mac: '02:00:0a:00:00:07' },
      },
    ]);
    assert.deepEqual(releaseCommands(nic), [{ execute: 'netdev_del', arguments: { id: 'nic1-net' } }]);
  });

  it('a restart re-creates added devices on their slots, with the same ids (still unpluggable)', () => {
    assert.deepEqual(coldplugArgs([disk, nic]), [
      '-blockdev',
      JSON.stringify({
        driver: 'qcow2',
        'node-name': 'disk3-node',
        'read-only': false,
        file: { driver: 'file', filename: '/w/disks/disk.3.qcow2', aio: 'threads' },
      }),
      '-device',
      'virtio-blk-pci,id=disk3,bus=hp1,drive=disk3-node,serial=vdc',
      '-netdev',
      'tap,id=nic1-net,ifname=oe7n1,script=no,downscript=no',
      '-device',
      'virtio-net-pci,id=nic1,bus=hp0,netdev=nic1-net,mac=02:00:0a:00:00:07',
    ]);
  });

  it('slots: root ports hp0…, the lowest free one, E_HOTPLUG_SLOTS_FULL when none is left', () => {
    assert.deepEqual(slotArgs(2), [
      '-device',
      'pcie-root-port,id=hp0,chassis=1,slot=1',
      '-device',
      'pcie-root-port,id=hp1,chassis=2,slot=2',
    ]);
    assert.equal(freeSlot([disk, nic], 4), 2);
    assert.equal(freeSlot([disk], 4), 0);
    assert.throws(
      () => freeSlot([nic, disk], 2),
      (e: unknown) => isOneError(e) && e.code === 'E_HOTPLUG_SLOTS_FULL',
    );
  });

  it('microvm with slots: PCIe on, pcie_ports=native instead of pci=off; without: as before', () => {
    const launch = {
      binary: 'qemu-system-x86_64',
      name: 'one-7',
      accel: 'tcg' as const,
      machine: 'microvm' as const,
      vcpu: 1,
      threads: 1,
      memoryMb: 128,
      cmdline: [],
      disks: [],
      nics: [],
      logPath: '/w/console.log',
      qmpSocket: '/w/qmp.sock',
      pidFile: '/w/qemu.pid',
    };
    const argv = qemuArgv({ ...launch, hotplugSlots: 2, hotplug: [nic] });
    assert.equal(argv[argv.indexOf('-M') + 1], 'microvm,acpi=on,rtc=on,pcie=on');
    assert.ok(argv.includes('pcie-root-port,id=hp1,chassis=2,slot=2'));
    assert.ok(argv.includes('virtio-net-pci,id=nic1,bus=hp0,netdev=nic1-net,mac=02:00:0a:00:00:07'));
    assert.ok(kernelCmdline({ ...launch, hotplugSlots: 2 }, []).includes('pcie_ports=native'));
    assert.ok(!kernelCmdline({ ...launch, hotplugSlots: 2 }, []).includes('pci=off'));
    assert.ok(kernelCmdline(launch, []).includes('pci=off'));
    assert.equal(qemuArgv(launch)[qemuArgv(launch).indexOf('-M') + 1], 'microvm,acpi=on,rtc=on');
  });
});

/**
 * A QMP server that behaves like QEMU for the commands hot-plug uses: it
 * tracks /machine/peripheral, and answers device_del with DEVICE_DELETED
 * (twice, like virtio devices: backend path first) after `releaseMs` — or
 * never, like a guest without PCIe hot-plug.
 */
class FakeQmp {
  readonly log: { execute: string; arguments?: Record<string, unknown> }[] = [];
  readonly devices = new Set<string>();
  releaseMs: number | null = 20;
  refuse: string | undefined;
  private server: Server | undefined;

  constructor(readonly path: string) {}

  async start(): Promise<void> {
    this.server = createServer((sock) => {
      sock.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
      let buf = '';
      sock.on('data', (chunk) => {
        buf += chunk.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: Record<string, unknown> };
          buf = buf.slice(nl + 1);
          const reply = (o: unknown) => !sock.destroyed && sock.write(`${JSON.stringify(o)}\n`);
          if (cmd.execute !== 'qmp_capabilities' && cmd.execute !== 'qom-list') this.log.push(cmd);
          const id = String(cmd.arguments?.id ?? '');
          if (cmd.execute === this.refuse) {
            reply({ error: { class: 'GenericError', desc: `${cmd.execute} refused` } });
          } else if (cmd.execute === 'qom-list') {
            reply({ return: [...this.devices].map((name) => ({ name, type: 'child<virtio-blk-pci>' })) });
          } else if (cmd.execute === 'device_add') {
            this.devices.add(id);
            reply({ return: {} });
          } else if (cmd.execute === 'device_del') {
            reply({ return: {} });
            const ms = this.releaseMs;
            if (ms !== null) {
              setTimeout(() => {
                this.devices.delete(id);
                reply({ event: 'DEVICE_DELETED', data: { path: `/machine/peripheral/${id}/virtio-backend` } });
                reply({ event: 'DEVICE_DELETED', data: { device: id, path: `/machine/peripheral/${id}` } });
              }, ms);
            }
          } else reply({ return: {} });
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.path, resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('qemu hot-plug: QMP sequences against a QEMU-like QMP server', () => {
  let dir: string;
  let fake: FakeQmp;
  /** A live process whose command line shows root ports, standing in for QEMU. */
  let proc: ChildProcess;
  let machine: LiveMachine;
  const spec = async (): Promise<WorkloadSpec> => JSON.parse(await readFile(join(dir, 'spec.json'), 'utf8'));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oneedge-qmp-hotplug-'));
    fake = new FakeQmp(join(dir, 'qmp.sock'));
    await fake.start();
    proc = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'pcie-root-port,id=hp0'], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 100));
    const base: Partial<WorkloadSpec> = {
      vmId: 7,
      name: 'one-7',
      env: {},
      context: {},
      machine: {
        disks: [{ path: '/w/boot.raw', format: 'raw', persistent: true }],
        nics: [{ tap: 'oe7n0', mac: 'x' }],
      },
    };
    await writeFile(join(dir, 'spec.json'), JSON.stringify(base));
    machine = { workDir: dir, qmpSocket: fake.path, pid: proc.pid, unplugTimeoutMs: 1000 };
  });

  after(async () => {
    proc.kill('SIGKILL');
    await fake.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('attach: recorded with a free slot, plugged once (a replay plugs nothing)', async () => {
    const { slot: _s, ...unplaced } = disk;
    await attachDevice(machine, unplaced, AbortSignal.timeout(5000));
    assert.deepEqual(
      fake.log.map((c) => c.execute),
      ['blockdev-add', 'device_add'],
    );
    assert.equal(fake.log[1]?.arguments?.bus, 'hp0');
    assert.deepEqual(
      (await spec()).machine?.hotplug?.map((d) => [d.id, d.slot]),
      [['disk3', 0]],
    );
    await attachDevice(machine, unplaced, AbortSignal.timeout(5000));
    assert.equal(fake.log.length, 2, 'a replayed attach must not plug again');
    assert.ok(fake.devices.has('disk3'));
  });

  it('detach: device_del, wait for DEVICE_DELETED, then blockdev-del; dropped from the record', async () => {
    fake.log.length = 0;
    await detachDevice(machine, { id: 'disk3' }, AbortSignal.timeout(5000));
    assert.deepEqual(
      fake.log.map((c) => c.execute),
      ['device_del', 'blockdev-del'],
    );
    assert.equal((await spec()).machine?.hotplug, undefined);
  });

  it('a refused plug is undone in QEMU and in the record', async () => {
    fake.log.length = 0;
    fake.refuse = 'device_add';
    await assert.rejects(
      attachDevice(machine, { id: 'nic2', nic: { tap: 'oe7n2', mac: '02:00:00:00:00:02' } }, AbortSignal.timeout(5000)),
      (e: unknown) => isOneError(e) && e.code === 'E_HOTPLUG_UNSUPPORTED' && e.message.includes('refused'),
    );
    fake.refuse = undefined;
    assert.deepEqual(
      fake.log.map((c) => c.execute),
      ['netdev_add', 'device_add', 'netdev_del'],
    );
    assert.equal((await spec()).machine?.hotplug, undefined);
  });

  it('a guest that never releases the device: E_HOTPLUG_GUEST, and the device stays recorded', async () => {
    await attachDevice(
      machine,
      { id: 'nic2', nic: { tap: 'oe7n2', mac: '02:00:00:00:00:02' } },
      AbortSignal.timeout(5000),
    );
    fake.releaseMs = null;
    const short = AbortSignal.timeout(60_000);
    const started = Date.now();
    await assert.rejects(
      detachDevice(machine, { id: 'nic2' }, short),
      (e: unknown) => isOneError(e) && e.code === 'E_HOTPLUG_GUEST',
    );
    assert.ok(Date.now() - started >= 1000);
    assert.deepEqual(
      (await spec()).machine?.hotplug?.map((d) => d.id),
      ['nic2'],
    );
    fake.releaseMs = 20;
    await detachDevice(machine, { id: 'nic2' }, AbortSignal.timeout(5000));
    assert.equal((await spec()).machine?.hotplug, undefined);
  });

  it('boot-time devices: refused while running (virtio-mmio), removed from the record while stopped', async () => {
    await assert.rejects(
      detachDevice(machine, { id: 'disk0', disk: { path: '/w/boot.raw', format: 'raw' } }, AbortSignal.timeout(5000)),
      (e: unknown) => isOneError(e) && e.code === 'E_HOTPLUG_UNSUPPORTED' && e.message.includes('virtio-mmio'),
    );
    const stopped = { ...machine, pid: undefined };
    await detachDevice(stopped, { id: 'nic0', nic: { tap: 'oe7n0', mac: 'x' } }, AbortSignal.timeout(5000));
    assert.deepEqual((await spec()).machine?.nics, []);
    // Attached while stopped: only recorded (with a slot), plugged by the next start.
    fake.log.length = 0;
    await attachDevice(
      stopped,
      { id: 'nic4', nic: { tap: 'oe7n4', mac: '02:00:00:00:00:04' } },
      AbortSignal.timeout(5000),
    );
    assert.equal(fake.log.length, 0);
    assert.equal((await spec()).machine?.hotplug?.[0]?.slot, 0);
    assert.ok(HOTPLUG_SLOTS >= 2);
  });

  it('the CONTEXT volume keeps room for later changes', async () => {
    const iso = join(dir, 'ctx.iso');
    await writeFile(iso, Buffer.alloc(370_000, 1));
    await reserveContextRoom(iso);
    const { size } = await stat(iso);
    assert.ok(size >= 370_000 + CONTEXT_HEADROOM && size % CONTEXT_HEADROOM === 0);
  });
});
