import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './support/agents.js';
import { Api } from './support/api.js';
import { TestServer } from './support/server.js';

interface SchedView {
  id: number;
  action: string;
  time: number;
  repeat: string | null;
  done: number;
  message: string;
}

/**
 * Scheduled actions (SCHED_ACTION) through the real daemon: from a template
 * and through the API, run at their time by the front-end's runner, with
 * their outcome recorded; bad input refused with E_SCHED_ACTION.
 */
describe('scheduled actions', () => {
  let server: TestServer;
  let api: Api;

  const vm = (id: number) => api.get(`/api/v1/vms/${id}`).then((r) => r.body);
  const sched = async (id: number): Promise<SchedView[]> => (await vm(id)).sched_actions ?? [];
  const instantiate = async (template: string, hold = false): Promise<number> => {
    const t = await api.post('/api/v1/templates', { template });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    return (await api.post(`/api/v1/templates/${t.body.id}/instantiate`, { hold })).body.items[0].id;
  };

  before(async () => {
    server = await new TestServer().start();
    api = await Api.login(server.url, 'oneadmin', server.adminPassword);
  });
  after(async () => server?.dispose());

  test('a SCHED_ACTION from the template runs at its time and is recorded', async () => {
    const id = await instantiate('NAME = s1\nMEMORY = 16\nSCHED_ACTION = [ ACTION = "release", TIME = "+1" ]', true);
    const before = await vm(id);
    assert.equal(before.state, 'HOLD');
    assert.equal(before.sched_actions[0].done, 0);
    const released = await waitFor('the release ran', async () => {
      const v = await vm(id);
      return v.state === 'PENDING' ? v : undefined;
    });
    const [sa] = released.sched_actions as SchedView[];
    assert.ok(sa && sa.done >= sa.time, 'done is recorded');
    assert.equal(sa?.message, '');
  });

  test('API: add, update, delete; a repeating action moves to its next time; a refused one keeps the error', async () => {
    const id = await instantiate('NAME = s2\nMEMORY = 16');
    const add = await api.post(`/api/v1/vms/${id}/sched-actions`, {
      action: 'hold',
      time: '+0',
      repeat: 'hourly',
      days: '2',
    });
    assert.equal(add.status, 200, JSON.stringify(add.body));
    const first = (add.body.sched_actions as SchedView[])[0] as SchedView;
    const ran = await waitFor(`the hourly hold ran (${server.logs().slice(-3000)})`, async () => {
      const [s] = await sched(id);
      return s && s.done > 0 ? s : undefined;
    });
    assert.equal((await vm(id)).state, 'HOLD');
    assert.equal(ran.time, first.time + 7200, 'the next run is two hours on');
    assert.equal(ran.message, '');

    // poweroff is not allowed from HOLD: recorded, not retried.
    const refusedRun = await api.post(`/api/v1/vms/${id}/sched-actions`, { action: 'poweroff', time: '+0' });
    assert.equal(refusedRun.status, 200);
    const failed = await waitFor('the poweroff was tried', async () => {
      const s = (await sched(id)).find((x) => x.id === 1);
      return s && s.done > 0 ? s : undefined;
    });
    assert.match(failed.message, /^E_VM_ACTION_STATE: /);
    assert.equal((await vm(id)).state, 'HOLD');

    const later = Math.floor(Date.now() / 1000) + 86_400;
    const upd = await api.put(`/api/v1/vms/${id}/sched-actions/0`, { action: 'release', time: later });
    assert.equal(upd.status, 200);
    const updated = (upd.body.sched_actions as SchedView[]).find((s) => s.id === 0);
    assert.deepEqual([updated?.action, updated?.time, updated?.repeat, updated?.done], ['release', later, null, 0]);
    const del = await api.del(`/api/v1/vms/${id}/sched-actions/1`);
    assert.equal(del.status, 200);
    assert.deepEqual(
      (del.body.sched_actions as SchedView[]).map((s) => s.id),
      [0],
    );
    assert.equal((await api.del(`/api/v1/vms/${id}/sched-actions/7`)).body.error.code, 'E_NOT_FOUND');
  });

  test('bad schedules are refused with E_SCHED_ACTION naming the field; nothing is stored', async () => {
    const id = await instantiate('NAME = s3\nMEMORY = 16');
    const cases: [object, RegExp][] = [
      [{ action: 'explode', time: '+5' }, /ACTION/],
      [{ action: 'poweroff', time: 'soon' }, /TIME/],
      [{ action: 'poweroff', time: '+5', repeat: 'weekly', days: '8' }, /DAYS/],
      [{ action: 'poweroff', time: '+5', end_type: 'times', end_value: 2 }, /END_TYPE/],
    ];
    for (const [body, field] of cases) {
      const res = await api.post(`/api/v1/vms/${id}/sched-actions`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'E_SCHED_ACTION');
      assert.match(res.body.error.details.field, field);
    }
    assert.equal((await sched(id)).length, 0);
    const line2 = 'SCHED_ACTION = [ ACTION = "poweroff", TIME = "+10", REPEAT = "9", DAYS = "1" ]';
    const tpl = await api.post('/api/v1/templates', { template: `NAME = bad\n${line2}\nMEMORY = 16` });
    assert.equal(tpl.status, 400);
    assert.equal(tpl.body.error.code, 'E_TEMPLATE_INVALID');
    assert.match(tpl.body.error.message, /SCHED_ACTION\[0\]\/REPEAT/);
    assert.deepEqual(
      [tpl.body.error.details.line, tpl.body.error.details.column],
      [2, line2.indexOf('REPEAT') + 1],
      'line:column of REPEAT',
    );
  });

  test("another group's user cannot schedule on a VM they do not manage", async () => {
    const id = await instantiate('NAME = s4\nMEMORY = 16');
    const groupId = (await api.post('/api/v1/groups', { name: 'sched-others' })).body.id;
    assert.equal(
      (await api.post('/api/v1/users', { name: 'mallory', password: 'mallory-password', group_id: groupId })).status,
      201,
    );
    const mallory = await Api.login(server.url, 'mallory', 'mallory-password');
    const res = await mallory.post(`/api/v1/vms/${id}/sched-actions`, { action: 'terminate', time: '+0' });
    assert.ok(res.status === 403 || res.status === 404, `refused (${res.status})`);
    assert.equal((await sched(id)).length, 0);
  });
});
