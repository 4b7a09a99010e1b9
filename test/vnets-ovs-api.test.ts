import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

/** ovswitch network attributes through the API: checked at create and update, and copied onto NICs. */
describe('ovswitch network attributes', () => {
  let server: TestServer;
  let api: Api;

  before(async () => {
    server = await new TestServer().start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  });
  after(async () => {
    await server?.dispose();
  });

  const createNet = (extra: string) =>
    api.post('/api/v1/vnets', {
      template: `NAME = n${Math.random().toString(16).slice(2, 8)}\nVN_MAD = ovswitch\n${extra}\nAR = [ TYPE = IP4, IP = 10.61.0.10, SIZE = 4 ]`,
    });

  test('bad PHYDEV, VLAN_TAGGED_ID and VLAN_ID are refused naming the attribute', async () => {
    for (const [extra, attribute, text] of [
      ['PHYDEV = "eth0;rm"', 'PHYDEV[0]', /PHYDEV must be an interface name/],
      ['VLAN_TAGGED_ID = "10,abc"', 'VLAN_TAGGED_ID[0]', /not a list of VLAN tags/],
      ['VLAN_TAGGED_ID = "100-5000"', 'VLAN_TAGGED_ID[0]', /not within 1-4094/],
      ['VLAN_ID = 4095', 'VLAN_ID[0]', /VLAN_ID must be from 1 to 4094/],
    ] as const) {
      const r = await createNet(extra);
      assert.equal(r.status, 400, `${extra}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'E_TEMPLATE_INVALID');
      assert.equal(r.body.error.details.attribute, attribute);
      assert.match(r.body.error.message, text);
    }
    const vx = await api.post('/api/v1/vnets', {
      template: 'NAME = vx\nVN_MAD = vxlan\nVLAN_TAGGED_ID = 10',
    });
    assert.equal(vx.status, 400);
    assert.match(vx.body.error.message, /VLAN_TAGGED_ID needs VN_MAD = ovswitch/);
  });

  test('NICs get BRIDGE, VLAN_ID, PHYDEV and VLAN_TAGGED_ID from the network, never from the NIC itself', async () => {
    const net = await createNet('VLAN_ID = 30\nPHYDEV = trunk0\nVLAN_TAGGED_ID = "40,50-52"');
    assert.equal(net.status, 201, JSON.stringify(net.body));
    assert.equal(net.body.bridge, 'oeovs0');
    const t = await api.post('/api/v1/templates', {
      template: `NAME = v\nMEMORY = 16\nNIC = [ NETWORK_ID = ${net.body.id}, PHYDEV = eth0 ]`,
    });
    const r = await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { hold: true });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const vm = (await api.get(`/api/v1/vms/${r.body.items[0].id}`)).body;
    const nic = vm.template.NIC as Record<string, string>;
    assert.equal(nic.VN_MAD, 'ovswitch');
    assert.equal(nic.BRIDGE, 'oeovs0');
    assert.equal(nic.VLAN_ID, '30');
    assert.equal(nic.PHYDEV, 'trunk0', "a NIC cannot pick the host's uplink");
    assert.equal(nic.VLAN_TAGGED_ID, '40,50-52');
    const bad = await api.put(`/api/v1/vnets/${net.body.id}`, {
      template: 'VN_MAD = ovswitch\nVLAN_ID = 30\nVLAN_TAGGED_ID = "x"',
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.error.details.attribute, 'VLAN_TAGGED_ID[0]');
  });
});
