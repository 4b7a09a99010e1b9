import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from './support/api.js';
import { databaseKinds, freshDatabase, type TestDatabase } from './support/databases.js';
import { TestServer } from './support/server.js';

const NET = `NAME = private
VN_MAD = vxlan
GATEWAY = 10.8.0.1
DNS = "10.8.0.2 10.8.0.3"
SEARCH_DOMAIN = edge.local
AR = [ TYPE = IP4, IP = 10.8.0.10, SIZE = 4 ]
AR = [ TYPE = IP4_6, IP = 10.8.1.10, SIZE = 2, ULA_PREFIX = "fd00:8:1::" ]
`;

let serial = 0;
const vmWith = (nic: string) => `NAME = n${serial++}
MEMORY = 16
NIC = [ ${nic} ]
CONTEXT = [ NETWORK = YES ]
`;

for (const label of databaseKinds()) {
  describe(`virtual networks through the API on ${label}`, () => {
    let tdb: TestDatabase | undefined;
    let server: TestServer;
    let api: Api;
    let user: Api;
    let netId: number;

    const instantiate = async (nic: string, who = api) => {
      const t = await who.post('/api/v1/templates', { template: vmWith(nic) });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      return who.post(`/api/v1/templates/${t.body.id}/instantiate`, { hold: true });
    };
    const leases = async (id = netId) =>
      (await api.get(`/api/v1/vnets/${id}/leases`)).body.items as Record<string, unknown>[];

    before(async () => {
      if (label === 'postgres') tdb = await freshDatabase('postgres');
      const url = tdb?.config.kind === 'postgres' ? tdb.config.url : undefined;
      server = await new TestServer(url ? { dbUrl: url } : {}).start();
      api = await Api.login(server.url, 'oneadmin', server.adminPassword);
      await api.post('/api/v1/users', { name: 'nina', password: 'nina-password', group_id: 1 });
      user = await Api.login(server.url, 'nina', 'nina-password');
    });
    after(async () => {
      await server?.dispose();
      await tdb?.drop();
    });

    test('create parses address ranges, derives MACs and refuses overlaps and bad ranges', async () => {
      const res = await api.post('/api/v1/vnets', { template: NET });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      netId = res.body.id;
      assert.equal(res.body.vn_mad, 'vxlan');
      assert.equal(res.body.bridge, `onebr${netId}`);
      assert.equal(res.body.ar_pool.length, 2);
      assert.equal(res.body.ar_pool[0].mac, '02:00:0a:08:00:0a');
      assert.equal(res.body.template.AR, undefined, 'ranges move to ar_pool');
      const overlap = await api.post('/api/v1/vnets', {
        template:
          'NAME = o\nVN_MAD = bridge\nAR = [ TYPE = IP4, IP = 10.0.0.1, SIZE = 10 ]\nAR = [ TYPE = IP4, IP = 10.0.0.5, SIZE = 2 ]',
      });
      assert.equal(overlap.status, 409);
      assert.equal(overlap.body.error.code, 'E_AR_OVERLAP');
      const bad = await api.post('/api/v1/vnets', {
        template: 'NAME = b\nVN_MAD = bridge\nAR = [ TYPE = IP4, SIZE = 2 ]',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.attribute, 'AR[0]/IP');
      const mad = await api.post('/api/v1/vnets', { template: 'NAME = m\nVN_MAD = openflow' });
      assert.equal(mad.body.error.code, 'E_TEMPLATE_INVALID');
      const users = await user.post('/api/v1/vnets', { template: 'NAME = u\nVN_MAD = bridge' });
      assert.equal(users.status, 403);
    });

    test('addar / updatear / rmar', async () => {
      const add = await api.post(`/api/v1/vnets/${netId}/ars`, {
        template: 'AR = [ TYPE = ETHER, SIZE = 3, MAC = 02:aa:00:00:00:00 ]',
      });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.equal(add.body.ar_pool.length, 3);
      const clash = await api.post(`/api/v1/vnets/${netId}/ars`, {
        template: 'AR = [ TYPE = IP4, IP = 10.8.0.12, SIZE = 5 ]',
      });
      assert.equal(clash.body.error.code, 'E_AR_OVERLAP');
      const grow = await api.put(`/api/v1/vnets/${netId}/ars/2`, { template: 'SIZE = 5' });
      assert.equal(grow.body.ar_pool[2].size, 5);
      const rm = await api.del(`/api/v1/vnets/${netId}/ars/2`);
      assert.equal(rm.status, 200);
      assert.equal(rm.body.ar_pool.length, 2);
      const forbidden = await user.post(`/api/v1/vnets/${netId}/ars`, { template: 'AR = [ TYPE = ETHER, SIZE = 1 ]' });
      assert.equal(forbidden.status, 403);
    });

    test('instantiate leases addresses into the NIC and CONTEXT; terminate frees them', async () => {
      const r = await instantiate(`NETWORK = private`, user);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const vm = r.body.items[0];
      const nic = vm.template.NIC;
      assert.deepEqual(
        [nic.NIC_ID, nic.NETWORK_ID, nic.IP, nic.MAC, nic.GATEWAY, nic.VN_MAD, nic.MTU, nic.BRIDGE],
        ['0', String(netId), '10.8.0.10', '02:00:0a:08:00:0a', '10.8.0.1', 'vxlan', '1450', `onebr${netId}`],
      );
      const specific = await instantiate(`NETWORK_ID = ${netId}, IP = 10.8.1.11`);
      const six = specific.body.items[0].template.NIC;
      assert.equal(six.IP6_ULA, 'fd00:8:1::aff:fe08:10b');
      const list = await leases();
      assert.deepEqual(
        list.map((l) => [l.ip, l.kind, l.vm_id, l.vm_name]),
        [
          ['10.8.0.10', 'vm', vm.id, vm.name],
          ['10.8.1.11', 'vm', specific.body.items[0].id, specific.body.items[0].name],
        ],
      );
      assert.equal((await api.get(`/api/v1/vnets/${netId}`)).body.used_leases, 2);
      const inUse = await api.del(`/api/v1/vnets/${netId}`);
      assert.equal(inUse.body.error.code, 'E_IN_USE');
      const removeAr = await api.del(`/api/v1/vnets/${netId}/ars/0`);
      assert.equal(removeAr.body.error.code, 'E_IN_USE');
      assert.equal((await user.del(`/api/v1/vms/${vm.id}`)).status, 202);
      assert.equal((await api.del(`/api/v1/vms/${specific.body.items[0].id}`)).status, 202);
      assert.deepEqual(await leases(), []);
    });

    test('lease errors carry codes and leave nothing behind', async () => {
      const out = await instantiate(`NETWORK_ID = ${netId}, IP = 10.9.9.9`);
      assert.equal(out.body.error.code, 'E_IP_OUT_OF_RANGE');
      assert.equal(out.body.error.details.attribute, 'NIC[0]');
      const first = await instantiate(`NETWORK_ID = ${netId}`);
      const dupIp = await instantiate(`NETWORK_ID = ${netId}, IP = 10.8.0.10`);
      assert.equal(dupIp.body.error.code, 'E_LEASE_IN_USE');
      const dupMac = await instantiate(`NETWORK_ID = ${netId}, MAC = 02:00:0a:08:00:0a`);
      assert.equal(dupMac.body.error.code, 'E_MAC_IN_USE');
      const t = await api.post('/api/v1/templates', { template: vmWith(`NETWORK_ID = ${netId}`) });
      const many = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { multiple: 6, hold: true });
      assert.equal(many.status, 409);
      assert.equal(many.body.error.code, 'E_LEASE_EXHAUSTED');
      assert.equal((await leases()).length, 1, 'the failed instantiations took no lease');
      await api.del(`/api/v1/vms/${first.body.items[0].id}`);
    });

    test('hold and release; reservations become networks of their own', async () => {
      const hold = await api.post(`/api/v1/vnets/${netId}/hold`, { ip: '10.8.0.10' });
      assert.equal(hold.status, 200, JSON.stringify(hold.body));
      const r = await instantiate(`NETWORK_ID = ${netId}`);
      assert.equal(r.body.items[0].template.NIC.IP, '10.8.0.11', 'held address skipped');
      const notHeld = await api.post(`/api/v1/vnets/${netId}/release`, { ip: '10.8.0.11' });
      assert.equal(notHeld.body.error.code, 'E_IN_USE');
      assert.equal((await api.post(`/api/v1/vnets/${netId}/release`, { ip: '10.8.0.10' })).status, 200);

      const res = await user.post(`/api/v1/vnets/${netId}/reserve`, { size: 2, name: 'mine' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.uname, 'nina');
      assert.equal(res.body.parent_network_id, netId);
      assert.deepEqual([res.body.ar_pool[0].ip, res.body.ar_pool[0].size], ['10.8.0.12', 2]);
      const parentLeases = await leases();
      assert.deepEqual(
        parentLeases.filter((l) => l.kind === 'reserved').map((l) => [l.ip, l.reserved_by]),
        [
          ['10.8.0.12', res.body.id],
          ['10.8.0.13', res.body.id],
        ],
      );
      const inChild = await instantiate(`NETWORK_ID = ${res.body.id}`, user);
      assert.equal(inChild.body.items[0].template.NIC.IP, '10.8.0.12');
      await user.del(`/api/v1/vms/${inChild.body.items[0].id}`);
      assert.equal((await user.del(`/api/v1/vnets/${res.body.id}`)).status, 204);
      assert.equal(
        (await leases()).filter((l) => l.kind === 'reserved').length,
        0,
        'deleting the reservation returns the addresses',
      );
      await api.del(`/api/v1/vms/${r.body.items[0].id}`);
    });
  });
}
