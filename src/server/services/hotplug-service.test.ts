import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../../test/support/databases.js';
import { isOneError } from '../../core/errors.js';
import type { PoolObject } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { getVectors } from '../../core/template/index.js';
import { LCM_STATES, VM_STATES } from '../../core/vm-states.js';
import { openStore, type Store } from '../../store/index.js';
import { HotplugService } from './hotplug-service.js';
import { ObjectService } from './object-service.js';
import { VmService } from './vm-service.js';
import { VnetService } from './vnet-service.js';

const ADMIN: Principal = { uid: 0, gid: 0, groups: [0], admin: true, name: 'oneadmin' };

const code = (c: string) => (err: unknown) => isOneError(err) && err.code === c;

for (const label of databaseKinds()) {
  describe(`hot-plug requests and their settlement on ${label}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    let nets: VnetService;
    let vms: VmService;
    let hotplug: HotplugService;
    let netId: number;
    let hostId: number;

    const vm = async (id: number) => (await store.objects.get('vm', id)) as PoolObject<'vm'>;
    const leases = async () => (await store.leases.list(netId)).filter((r) => r.kind === 'vm');

    /** A VM already RUNNING on the host with one leased NIC (what deploy + boot would leave). */
    async function runningVm(withNic = true): Promise<number> {
      return store.objects.transaction(async (tx) => {
        const id = await tx.allocateId('vm');
        const nic = withNic
          ? await nets.leaseNic(tx, ADMIN, { NETWORK_ID: String(netId) }, id, 0, 'NIC[0]')
          : undefined;
        const created = await tx.create('vm', {
          id,
          name: `v${id}`,
          uid: 0,
          gid: 0,
          uname: 'oneadmin',
          gname: 'oneadmin',
          perms: 0o600,
          state: VM_STATES.ACTIVE,
          lcmState: LCM_STATES.RUNNING,
          template: { MEMORY: '32', ...(nic ? { NIC: nic } : {}) },
          body: {
            template_id: null,
            host_id: hostId,
            host_name: 'edge',
            pending_op: null,
            last_action: 'deploy',
            resched: false,
            sched_message: '',
            error: null,
            history: [],
            user_template: {},
            stime: 0,
            etime: 0,
          },
        });
        return created.id;
      });
    }

    before(async () => {
      tdb = await freshDatabase(label);
      store = await openStore(tdb.config);
      nets = new VnetService(store);
      vms = new VmService(store, nets);
      const objects = new ObjectService(store, {} as never);
      nets.bind(objects);
      vms.bind(objects);
      hotplug = new HotplugService(store, objects, nets);
      const net = await store.objects.transaction(async (tx) =>
        tx.create(
          'vnet',
          await nets.handler.prepareCreate(tx, ADMIN, {
            template: 'NAME = n\nVN_MAD = bridge\nAR = [ TYPE = IP4, IP = 10.5.0.1, SIZE = 3 ]',
          }),
        ),
      );
      netId = net.id;
      const host = await store.objects.create('host', {
        name: 'edge',
        uid: 0,
        gid: 0,
        uname: 'oneadmin',
        gname: 'oneadmin',
        perms: 0o600,
        state: 2,
        lcmState: 0,
        template: {},
        body: {
          cluster_id: 0,
          im_mad: 'oneedge',
          vm_mad: 'oneedge',
          credential_hash: null,
          join_token_hash: null,
          join_token_expires: 0,
          last_agent_seq: 0,
          facts: {
            hostname: 'edge',
            arch: 'x86_64',
            cpus: 2,
            memoryMb: 1024,
            agentVersion: 't',
            runtimes: ['crun', 'qemu'],
            unusable: {},
            networkDrivers: ['bridge'],
          },
          last_seen: 0,
          connected: true,
        },
      });
      hostId = host.id;
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('attach takes the lease now and marks the NIC; recover --failure rolls it back and frees the lease', async () => {
      const id = await runningVm();
      const v = await hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${netId} ]` });
      assert.equal(v.lcmState, LCM_STATES.HOTPLUG_NIC);
      assert.equal(v.body.pending_op, 'attach-nic');
      assert.deepEqual(v.body.hotplug, { kind: 'nic-attach', id: 1 });
      assert.equal(getVectors(v.template, 'NIC')[1]?.ATTACH, 'YES');
      assert.equal((await leases()).filter((l) => l.vm_id === id).length, 2);
      await assert.rejects(hotplug.detachNic(ADMIN, id, 0), code('E_VM_ACTION_STATE'), 'one hot-plug at a time');
      const back = await vms.action(ADMIN, id, 'recover-failure', {});
      assert.equal(back.lcmState, LCM_STATES.RUNNING);
      assert.equal(back.body.hotplug, null);
      assert.equal(getVectors(back.template, 'NIC').length, 1, 'the NIC left again');
      assert.deepEqual(
        (await leases()).filter((l) => l.vm_id === id).map((l) => l.nic_id),
        [0],
        'its lease is free',
      );
    });

    test('detach: recover --success removes the NIC and frees its lease; a powered-off VM changes at once', async () => {
      const id = await runningVm();
      const marked = await hotplug.detachNic(ADMIN, id, 0);
      assert.equal(getVectors(marked.template, 'NIC')[0]?.ATTACH, 'YES');
      const done = await vms.action(ADMIN, id, 'recover-success', {});
      assert.equal(getVectors(done.template, 'NIC').length, 0);
      assert.equal((await leases()).filter((l) => l.vm_id === id).length, 0);

      const off = await runningVm();
      await store.objects.update('vm', off, undefined, (o) => ({ ...o, state: VM_STATES.POWEROFF, lcmState: 0 }));
      const added = await hotplug.attachNic(ADMIN, off, { template: { NIC: { NETWORK_ID: String(netId) } } });
      assert.equal(added.state, VM_STATES.POWEROFF, 'no host op for a powered-off VM');
      assert.equal(added.body.pending_op, null);
      assert.equal(getVectors(added.template, 'NIC')[1]?.ATTACH, undefined);
      const removed = await hotplug.detachNic(ADMIN, off, 1);
      assert.equal(getVectors(removed.template, 'NIC').length, 1);
      assert.equal((await leases()).filter((l) => l.vm_id === off).length, 1);
    });

    test('refusals change nothing: exhaustion, unknown NIC, microVM runtime, attributes a user may not set', async () => {
      const id = await runningVm();
      // Three addresses in the range: the VMs above hold them now.
      const before = await vm(id);
      await assert.rejects(
        hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${netId} ]` }),
        code('E_LEASE_EXHAUSTED'),
      );
      await assert.rejects(hotplug.detachNic(ADMIN, id, 5), code('E_NOT_FOUND'));
      await assert.rejects(
        hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${netId}, BRIDGE = x ]` }),
        code('E_TEMPLATE_INVALID'),
      );
      await assert.rejects(
        hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${netId} ]\nMEMORY = 1` }),
        code('E_TEMPLATE_INVALID'),
      );
      await assert.rejects(
        hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = swap, SIZE = 8 ]' }),
        code('E_HOTPLUG_UNSUPPORTED'),
      );
      await assert.rejects(
        hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = fs, SIZE = 0 ]' }),
        code('E_TEMPLATE_INVALID'),
      );
      await assert.rejects(
        hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = fs, SIZE = 8, TARGET = "../x" ]' }),
        code('E_TEMPLATE_INVALID'),
      );
      await assert.rejects(hotplug.detachDisk(ADMIN, id, 0), code('E_NOT_FOUND'));
      assert.equal((await vm(id)).revision, before.revision);

      // Firecracker's devices are fixed at boot; qemu microVMs have hot-plug slots.
      const micro = await store.objects.transaction(async (tx) => {
        const v = await tx.get('vm', id);
        return v ? tx.replace(v, { ...v, template: { ...v.template, RUNTIME: 'firecracker' } }) : undefined;
      });
      await assert.rejects(
        hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = fs, SIZE = 8 ]' }),
        (err: unknown) =>
          isOneError(err) && err.code === 'E_HOTPLUG_UNSUPPORTED' && err.message.includes('firecracker'),
      );
      assert.equal((await vm(id)).revision, micro?.revision);
      const qemu = await store.objects.transaction(async (tx) => {
        const v = await tx.get('vm', id);
        return v ? tx.replace(v, { ...v, template: { ...v.template, RUNTIME: 'qemu' } }) : undefined;
      });
      // A swap disk is fine for a microVM (the guest decides what to do with it).
      const swapped = await hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = swap, SIZE = 8 ]' });
      assert.equal(swapped.lcmState, LCM_STATES.HOTPLUG);
      assert.ok((qemu?.revision ?? 0) < swapped.revision);
    });

    test('a vhost-user NIC (openvswitch_dpdk network) is neither hot-plugged nor given to a container; nothing is leased', async () => {
      const dpdk = await store.objects.transaction(async (tx) =>
        tx.create(
          'vnet',
          await nets.handler.prepareCreate(tx, ADMIN, {
            template:
              'NAME = dpdk\nVN_MAD = ovswitch\nBRIDGE_TYPE = openvswitch_dpdk\nVLAN_ID = 10\nAR = [ TYPE = IP4, IP = 10.6.0.1, SIZE = 4 ]',
          }),
        ),
      );
      const dpdkLeases = async () => (await store.leases.list(dpdk.id)).filter((r) => r.kind === 'vm');
      const id = await runningVm(false);
      const asQemu = await store.objects.transaction(async (tx) => {
        const v = (await tx.get('vm', id)) as PoolObject<'vm'>;
        return tx.replace(v, { ...v, template: { ...v.template, RUNTIME: 'qemu' } });
      });
      await assert.rejects(
        hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${dpdk.id} ]` }),
        (err: unknown) => isOneError(err) && err.code === 'E_VHOST_USER' && err.message.includes('power VM'),
      );
      assert.equal((await vm(id)).revision, asQemu.revision);
      assert.deepEqual(await dpdkLeases(), []);
      // A powered-off container cannot take one either (only qemu microVMs have vhost-user NICs).
      const parked = await store.objects.transaction(async (tx) => {
        const v = (await tx.get('vm', id)) as PoolObject<'vm'>;
        return tx.replace(v, {
          ...v,
          state: VM_STATES.POWEROFF,
          lcmState: LCM_STATES.LCM_INIT,
          template: { MEMORY: '32', NIC: { NIC_ID: '0', NETWORK_ID: String(netId), IP: '10.5.0.1' } },
        });
      });
      await assert.rejects(
        hotplug.attachNic(ADMIN, id, { template: `NIC = [ NETWORK_ID = ${dpdk.id} ]` }),
        (err: unknown) => isOneError(err) && err.code === 'E_VHOST_USER' && err.message.includes('crun'),
      );
      assert.equal((await vm(id)).revision, parked.revision);
      assert.deepEqual(await dpdkLeases(), []);
    });

    test('a volatile disk gets the next DISK_ID and a free target; every disk keeps its id when one leaves', async () => {
      const id = await runningVm(false);
      await store.objects.update('vm', id, undefined, (o) => ({
        ...o,
        template: {
          ...o.template,
          DISK: [
            { TYPE: 'fs', SIZE: '4' },
            { TYPE: 'fs', SIZE: '4', TARGET: 'vdc' },
          ],
        },
      }));
      const v = await hotplug.attachDisk(ADMIN, id, { template: 'DISK = [ TYPE = fs, SIZE = 8 ]' });
      assert.equal(v.lcmState, LCM_STATES.HOTPLUG);
      const disks = getVectors(v.template, 'DISK');
      assert.deepEqual(
        disks.map((d) => [d.DISK_ID, d.TARGET, d.ATTACH]),
        [
          ['0', undefined, undefined],
          ['1', 'vdc', undefined],
          ['2', 'vdb', 'YES'],
        ],
      );
      const ok = await vms.action(ADMIN, id, 'recover-success', {});
      const det = await hotplug.detachDisk(ADMIN, ok.id, 0);
      assert.equal(det.lcmState, LCM_STATES.HOTPLUG);
      const gone = await vms.action(ADMIN, id, 'recover-success', {});
      assert.deepEqual(
        getVectors(gone.template, 'DISK').map((d) => d.DISK_ID),
        ['1', '2'],
      );
    });
  });
}
