import { OneError } from '../../core/errors.js';
import { ONEADMIN_UID, type Principal, USERS_GID } from '../../core/permissions.js';
import type { Store } from '../../store/index.js';
import { hashPassword } from '../auth/password.js';
import type { Sessions } from '../auth/sessions.js';
import { checkName, type KindHandler } from './object-service.js';
import { readTemplate } from './template-input.js';

const USERNAME_RE = /^[A-Za-z0-9_.@-]{1,128}$/;

/** Users: creation with a hashed password, password changes, secondary groups. */
export class UserService {
  readonly handler: KindHandler<'user'>;

  constructor(
    private readonly store: Store,
    private readonly sessions: Sessions,
    private readonly scryptCost: number,
  ) {
    this.handler = {
      adminCreate: true,
      prepareCreate: async (tx, _who, input) => {
        const name = checkName(input.name);
        if (!USERNAME_RE.test(name)) {
          throw new OneError('E_VALIDATION', 'user names use letters, digits and _ . @ - only', { field: 'name' });
        }
        if (typeof input.password !== 'string') {
          throw new OneError('E_VALIDATION', "a new user needs a 'password'", { field: 'password' });
        }
        const gid = typeof input.group_id === 'number' ? input.group_id : USERS_GID;
        const group = await tx.get('group', gid);
        if (!group) throw new OneError('E_NOT_FOUND', `group ${gid} does not exist`, { kind: 'group', id: gid });
        const id = await tx.allocateId('user');
        return {
          id,
          name,
          // A user owns its own object, so it can see and manage itself.
          uid: id,
          gid,
          uname: name,
          gname: group.name,
          perms: 0o600,
          state: 0,
          lcmState: 0,
          template: readTemplate(input, false).template,
          body: {
            groups: [],
            enabled: true,
            auth_driver: 'core',
            password_hash: await hashPassword(input.password, this.scryptCost),
          },
        };
      },
      beforeDelete: async (_tx, who, obj) => {
        if (obj.id === ONEADMIN_UID) throw new OneError('E_PROTECTED', 'oneadmin cannot be deleted');
        if (obj.id === who.uid) throw new OneError('E_FORBIDDEN', 'you cannot delete yourself');
        await this.sessions.revokeUser(obj.id);
      },
    };
  }

  /** Users change their own password; administrators change anyone's. Ends the user's other sessions. */
  async setPassword(who: Principal, uid: number, password: unknown): Promise<void> {
    if (!who.admin && who.uid !== uid)
      throw new OneError('E_FORBIDDEN', "only administrators change other users' passwords");
    if (typeof password !== 'string')
      throw new OneError('E_VALIDATION', "'password' is required", { field: 'password' });
    const hash = await hashPassword(password, this.scryptCost);
    await this.store.objects.update('user', uid, undefined, (u) => ({
      ...u,
      body: { ...u.body, password_hash: hash },
    }));
    await this.sessions.revokeUser(uid);
  }

  async setEnabled(who: Principal, uid: number, enabled: boolean): Promise<void> {
    if (!who.admin) throw new OneError('E_FORBIDDEN', 'only administrators enable or disable users');
    if (uid === ONEADMIN_UID && !enabled) throw new OneError('E_PROTECTED', 'oneadmin cannot be disabled');
    await this.store.objects.update('user', uid, undefined, (u) => ({ ...u, body: { ...u.body, enabled } }));
    if (!enabled) await this.sessions.revokeUser(uid);
  }

  /** Adds or removes a secondary group (administrators only, like `oneuser addgroup`). */
  async changeGroups(who: Principal, uid: number, gid: number, add: boolean): Promise<void> {
    if (!who.admin) throw new OneError('E_FORBIDDEN', 'only administrators change group membership');
    await this.store.objects.transaction(async (tx) => {
      const group = await tx.get('group', gid);
      if (!group) throw new OneError('E_NOT_FOUND', `group ${gid} does not exist`, { kind: 'group', id: gid });
      const user = await tx.mustGet('user', uid);
      if (!add && user.gid === gid) {
        throw new OneError('E_CONFLICT', `group ${gid} is the primary group of user ${uid}; chgrp the user first`);
      }
      const groups = add ? [...new Set([...user.body.groups, gid])] : user.body.groups.filter((g) => g !== gid);
      await tx.update('user', uid, user.revision, (u) => ({ ...u, body: { ...u.body, groups } }));
    });
  }

  /** Changes a user's primary group (`oneuser chgrp`); the old primary group is not kept as a secondary one. */
  async setPrimaryGroup(who: Principal, uid: number, gid: number): Promise<void> {
    if (!who.admin) throw new OneError('E_FORBIDDEN', "only administrators change a user's group");
    await this.store.objects.transaction(async (tx) => {
      const group = await tx.get('group', gid);
      if (!group) throw new OneError('E_NOT_FOUND', `group ${gid} does not exist`, { kind: 'group', id: gid });
      const user = await tx.mustGet('user', uid);
      await tx.update('user', uid, user.revision, (u) => ({
        ...u,
        gid,
        gname: group.name,
        body: { ...u.body, groups: u.body.groups.filter((g) => g !== gid) },
      }));
    });
  }
}
