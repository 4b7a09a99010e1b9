import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

/**
 * VM actions through the real daemon: the state machine's transitions are
 * recorded (state, pending host operation, history), refusals carry
 * E_VM_ACTION_STATE. Without agents, `recover --success/--failure` stands in
 * for the driver results (exactly what an operator does in OpenNebula).
 */
describe('VM actions over the API', () => {
  let server: TestServer;
  let api: Api;
  let hostId: number;
  let templateId: number;

  const act = (id: number, action: string, body?: unknown) => api.post(`/api/v1/vms/${id}/actions/${action}`, body);
  const phase = (r: { body: { state: string; lcm_state: string } }) => `${r.body.state}/${r.body.lcm_state}`;
  async function newVm(): Promise<number> {
    const res = await api.post(`/api/v1/templates/${templateId}/instantiate`, {});
    return res.body.items[0].id;
  }

  before(async () => {
    server = await new TestServer().start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
    hostId = (await api.post('/api/v1/hosts', { name: 'edge-1' })).body.id;
    templateId = (await api.post('/api/v1/templates', { template: 'NAME = t\nMEMORY = 64' })).body.id;
  });
  after(async () => server?.dispose());

  test('hold and release; wrong-state actions are refused with E_VM_ACTION_STATE', async () => {
    const id = await newVm();
    assert.equal(phase(await act(id, 'hold')), 'HOLD/LCM_INIT');
    const bad = await act(id, 'poweroff');
    assert.equal(bad.status, 409);
    assert.equal(bad.body.error.code, 'E_VM_ACTION_STATE');
    assert.match(bad.body.error.message, /cannot poweroff a VM in HOLD: allowed from RUNNING/);
    assert.equal(phase(await act(id, 'release')), 'PENDING/LCM_INIT');
    const unknown = await act(id, 'explode');
    assert.equal(unknown.status, 400);
    const allowed = await api.get(`/api/v1/vms/${id}/actions`);
    assert.ok(allowed.body.actions.includes('deploy') && allowed.body.actions.includes('hold'));
    assert.ok(!allowed.body.actions.includes('poweroff'));
  });

  test('deploy records the host and history; the driver steps lead to RUNNING', async () => {
    const id = await newVm();
    const noHost = await act(id, 'deploy');
    assert.equal(noHost.status, 400);
    assert.equal(noHost.body.error.code, 'E_HOST_REQUIRED');
    const d = await act(id, 'deploy', { host_id: hostId });
    assert.equal(phase(d), 'ACTIVE/PROLOG');
    assert.equal(d.body.pending_op, 'prolog');
    assert.equal(d.body.host_id, hostId);
    assert.equal(d.body.history.length, 1);
    assert.equal(d.body.history[0].host_name, 'edge-1');
    assert.equal(phase(await act(id, 'recover-success')), 'ACTIVE/BOOT');
    const running = await act(id, 'recover-success');
    assert.equal(phase(running), 'ACTIVE/RUNNING');
    assert.equal(running.body.pending_op, null);
    const del = await api.del(`/api/v1/hosts/${hostId}`);
    assert.equal(del.status, 409, 'a host with VMs cannot be deleted');
    assert.equal(del.body.error.code, 'E_IN_USE');
  });

  test('poweroff, resume with a failed boot, terminate to DONE', async () => {
    const id = await newVm();
    await act(id, 'deploy', { host_id: hostId });
    await act(id, 'recover-success');
    await act(id, 'recover-success');
    const off = await act(id, 'poweroff');
    assert.equal(phase(off), 'ACTIVE/SHUTDOWN_POWEROFF');
    assert.equal(off.body.pending_op, 'shutdown');
    assert.equal(phase(await act(id, 'recover-success')), 'POWEROFF/LCM_INIT');
    assert.equal(phase(await act(id, 'resume')), 'ACTIVE/BOOT_POWEROFF');
    assert.equal(phase(await act(id, 'recover-failure')), 'POWEROFF/LCM_INIT');
    const term = await api.del(`/api/v1/vms/${id}`);
    assert.equal(term.status, 202);
    const epilog = await api.get(`/api/v1/vms/${id}`);
    assert.equal(phase(epilog), 'ACTIVE/EPILOG');
    const done = await act(id, 'recover-success');
    assert.equal(phase(done), 'DONE/LCM_INIT');
    assert.equal(done.body.host_id, null);
    assert.ok(done.body.etime > 0);
    const active = await api.get('/api/v1/vms?limit=0');
    assert.ok(!active.body.items.some((v: { id: number }) => v.id === id), 'DONE VMs leave the default list');
    const withDone = await api.get('/api/v1/vms?limit=0&include_done=true');
    assert.ok(withDone.body.items.some((v: { id: number }) => v.id === id));
  });

  test('a failed boot waits in BOOT_FAILURE; recover --retry re-runs boot', async () => {
    const id = await newVm();
    await act(id, 'deploy', { host_id: hostId });
    await act(id, 'recover-success');
    const failed = await act(id, 'recover-failure');
    assert.equal(phase(failed), 'ACTIVE/BOOT_FAILURE');
    const retry = await act(id, 'recover-retry');
    assert.equal(phase(retry), 'ACTIVE/BOOT');
    assert.equal(retry.body.pending_op, 'boot');
  });

  test('stop then resume goes back through PENDING and deploy resumes from PROLOG_RESUME', async () => {
    const id = await newVm();
    await act(id, 'deploy', { host_id: hostId });
    await act(id, 'recover-success');
    await act(id, 'recover-success');
    assert.equal(phase(await act(id, 'stop')), 'ACTIVE/SAVE_STOP');
    assert.equal(phase(await act(id, 'recover-success')), 'ACTIVE/EPILOG_STOP');
    assert.equal(phase(await act(id, 'recover-success')), 'STOPPED/LCM_INIT');
    assert.equal(phase(await act(id, 'resume')), 'PENDING/LCM_INIT');
    assert.equal(phase(await act(id, 'deploy', { host_id: hostId })), 'ACTIVE/PROLOG_RESUME');
  });

  test('a stale If-Match on an action is refused and changes nothing', async () => {
    const id = await newVm();
    const cur = await api.get(`/api/v1/vms/${id}`);
    const stale = await api.post(`/api/v1/vms/${id}/actions/hold`, {}, { 'if-match': String(cur.body.revision + 5) });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'E_REVISION_MISMATCH');
    assert.equal(phase(await api.get(`/api/v1/vms/${id}`)), 'PENDING/LCM_INIT');
  });
});
