import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ONEADMIN_GID, ONEADMIN_UID, USERS_GID } from '../core/permissions.js';
import type { Store } from '../store/index.js';
import { generatePassword, hashPassword } from './auth/password.js';

export const ONEADMIN_AUTH_FILE = 'oneadmin.auth';

const admin = { uid: ONEADMIN_UID, gid: ONEADMIN_GID, uname: 'oneadmin', gname: 'oneadmin', state: 0, lcmState: 0 };

/**
 * First start: the built-in groups, the oneadmin user with a random password
 * written to `<data-dir>/oneadmin.auth` (mode 0600, `user:password`, like
 * OpenNebula's one_auth), the default cluster and the three default
 * datastores. Does nothing when oneadmin already exists.
 */
export async function bootstrap(store: Store, dataDir: string, scryptCost: number, log: Logger): Promise<void> {
  if (await store.objects.get('user', ONEADMIN_UID)) return;
  const password = generatePassword();
  const authFile = join(dataDir, ONEADMIN_AUTH_FILE);
  const passwordHash = await hashPassword(password, scryptCost);
  await store.objects.transaction(async (tx) => {
    await tx.create('group', { ...admin, id: ONEADMIN_GID, name: 'oneadmin', perms: 0o640, template: {}, body: {} });
    await tx.create('group', {
      ...admin,
      id: USERS_GID,
      gid: USERS_GID,
      gname: 'users',
      name: 'users',
      perms: 0o640,
      template: {},
      body: {},
    });
    await tx.create('user', {
      ...admin,
      id: ONEADMIN_UID,
      name: 'oneadmin',
      perms: 0o600,
      template: {},
      body: { groups: [], enabled: true, auth_driver: 'core', password_hash: passwordHash },
    });
    await tx.create('cluster', { ...admin, id: 0, name: 'default', perms: 0o600, template: {}, body: {} });
    const ds = [
      { id: 0, name: 'system', type: 'SYSTEM', ds: '-', tm: 'local' },
      { id: 1, name: 'default', type: 'IMAGE', ds: 'fs', tm: 'local' },
      { id: 2, name: 'files', type: 'FILE', ds: 'fs', tm: 'local' },
    ] as const;
    for (const d of ds) {
      await tx.create('datastore', {
        ...admin,
        id: d.id,
        name: d.name,
        perms: 0o644,
        template: { TYPE: `${d.type}_DS`, DS_MAD: d.ds, TM_MAD: d.tm },
        body: { type: d.type, ds_mad: d.ds, tm_mad: d.tm, cluster_ids: [0] },
      });
    }
    // Written inside the transaction: if it fails nothing is created and the next start retries.
    await writeFile(authFile, `oneadmin:${password}\n`, { mode: 0o600, flag: existsSync(authFile) ? 'w' : 'wx' });
  });
  log.info({ authFile }, 'created oneadmin; credentials written');
}
