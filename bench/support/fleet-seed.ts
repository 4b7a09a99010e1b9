import { createHash, randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import type { PoolObject } from '../../src/core/model.js';

/** Hosts with credentials and their RUNNING VMs, written straight into the server's SQLite file. */
export function seedFleet(
  dbPath: string,
  hosts: number,
  VMS: number,
): { id: number; credential: string; vmIds: number[] }[] {
  const db = new SQLite(dbPath);
  db.pragma('busy_timeout = 10000');
  const cols = 'id,name,uid,gid,uname,gname,perms,state,lcm_state,template,body,revision,created_at,updated_at';
  const insHost = db.prepare(`insert into hosts (${cols}) values (${cols.replace(/\w+/g, '?')})`);
  const insVm = db.prepare(`insert into vms (${cols},host_id) values (${cols.replace(/\w+/g, '?')},?)`);
  const base = (db.prepare('select coalesce(max(id), -1) + 1 as n from hosts').get() as { n: number }).n;
  const vmBase = (db.prepare('select coalesce(max(id), -1) + 1 as n from vms').get() as { n: number }).n;
  const out: { id: number; credential: string; vmIds: number[] }[] = [];
  const now = Date.now();
  db.transaction(() => {
    let vmId = vmBase;
    for (let i = 0; i < hosts; i++) {
      const id = base + i;
      const secret = randomBytes(32).toString('base64url');
      const host: PoolObject<'host'> = {
        kind: 'host',
        id,
        name: `sim-${id}`,
        uid: 0,
        gid: 0,
        uname: 'oneadmin',
        gname: 'oneadmin',
        perms: 0o600,
        state: 0,
        lcmState: 0,
        template: {},
        body: {
          cluster_id: 0,
          im_mad: 'oneedge',
          vm_mad: 'oneedge',
          credential_hash: createHash('sha256').update(secret).digest('hex'),
          join_token_hash: null,
          join_token_expires: 0,
          last_agent_seq: 0,
          facts: null,
          last_seen: 0,
          connected: false,
        },
        revision: 1,
        createdAt: now,
        updatedAt: now,
      };
      insHost.run(
        id,
        host.name,
        0,
        0,
        'oneadmin',
        'oneadmin',
        0o600,
        0,
        0,
        '{}',
        JSON.stringify(host.body),
        1,
        now,
        now,
      );
      const vmIds: number[] = [];
      for (let j = 0; j < VMS; j++, vmId++) {
        const vm: PoolObject<'vm'> = {
          kind: 'vm',
          id: vmId,
          name: `sim-vm-${vmId}`,
          uid: 0,
          gid: 0,
          uname: 'oneadmin',
          gname: 'oneadmin',
          perms: 0o600,
          state: 3,
          lcmState: 3,
          template: { NAME: `sim-vm-${vmId}`, CPU: '0.1', MEMORY: '64' },
          body: {
            template_id: null,
            host_id: id,
            host_name: host.name,
            pending_op: null,
            last_action: null,
            resched: false,
            sched_message: '',
            history: [{ seq: 0, host_id: id, host_name: host.name, ds_id: 0, action: 'none', stime: 0, etime: 0 }],
            error: null,
            user_template: {},
            stime: Math.floor(now / 1000),
            etime: 0,
          },
          revision: 1,
          createdAt: now,
          updatedAt: now,
        };
        insVm.run(
          vmId,
          vm.name,
          0,
          0,
          'oneadmin',
          'oneadmin',
          0o600,
          3,
          3,
          JSON.stringify(vm.template),
          JSON.stringify(vm.body),
          1,
          now,
          now,
          id,
        );
        vmIds.push(vmId);
      }
      out.push({ id, credential: `oeh_${id}_${secret}`, vmIds });
    }
  })();
  db.close();
  return out;
}
