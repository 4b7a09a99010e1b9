import { OneError } from '../../core/errors.js';
import { DEFAULT_RULES, parseSecurityRule } from '../../core/ipam/index.js';
import type { PoolObject, SecurityRuleBody } from '../../core/model.js';
import { ONEADMIN_GID, ONEADMIN_UID } from '../../core/permissions.js';
import { getString, getVectors } from '../../core/template/index.js';
import type { Template } from '../../core/template/types.js';
import type { Store, TxStore } from '../../store/index.js';
import { checkName, type KindHandler, ownedBy } from './object-service.js';
import { readTemplate } from './template-input.js';

export const DEFAULT_SECGROUP_ID = 0;

export function rulesOf(t: Template): SecurityRuleBody[] {
  return getVectors(t, 'RULE').map((v, i) => parseSecurityRule(v, `RULE[${i}]`));
}

/** The security-group ids a NIC uses: its own, else its network's, always with the default group 0. */
export function nicGroupIds(nic: Record<string, string>): number[] {
  const ids = (nic.SECURITY_GROUPS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0);
  return [...new Set([DEFAULT_SECGROUP_ID, ...ids])].sort((a, b) => a - b);
}

/**
 * Security groups: rules parsed from `RULE = [...]` vectors when created or
 * updated. Group 0 ("default") always exists and allows all outbound traffic.
 * A group a VM's NIC uses cannot be deleted.
 */
export class SecgroupService {
  readonly handler: KindHandler<'secgroup'>;

  constructor(private readonly store: Store) {
    this.handler = {
      adminCreate: false,
      prepareCreate: async (_tx, who, input) => {
        const parsed = readTemplate(input);
        return {
          ...ownedBy(who),
          name: checkName(input.name ?? getString(parsed.template, 'NAME')),
          state: 0,
          lcmState: 0,
          template: parsed.template,
          body: { rules: rulesOf(parsed.template) },
        };
      },
      checkTemplate: async (_tx, _who, _obj, parsed) => {
        rulesOf(parsed.template);
        return parsed.template;
      },
      bodyFromTemplate: (_obj, parsed) => ({ rules: rulesOf(parsed.template) }),
      beforeDelete: async (tx, _who, obj) => {
        if (obj.id === DEFAULT_SECGROUP_ID)
          throw new OneError('E_PROTECTED', 'the default security group cannot be deleted');
        const users = (await tx.list('vm')).filter((vm) =>
          getVectors(vm.template, 'NIC').some((n) => nicGroupIds(n).includes(obj.id)),
        );
        if (users.length > 0) {
          throw new OneError(
            'E_IN_USE',
            `security group ${obj.id} is used by VM(s) ${users.map((v) => v.id).join(', ')}`,
            {
              vms: users.map((v) => v.id),
            },
          );
        }
      },
    };
  }

  /** Creates group 0 ("default", outbound allowed) if this database has none. */
  async ensureDefault(): Promise<void> {
    await this.store.objects.transaction(async (tx) => {
      if (await tx.get('secgroup', DEFAULT_SECGROUP_ID)) return;
      await tx.create('secgroup', {
        id: DEFAULT_SECGROUP_ID,
        uid: ONEADMIN_UID,
        gid: ONEADMIN_GID,
        uname: 'oneadmin',
        gname: 'oneadmin',
        perms: 0o644,
        name: 'default',
        state: 0,
        lcmState: 0,
        template: {
          NAME: 'default',
          DESCRIPTION: 'outbound traffic allowed; replies come back',
          RULE: { PROTOCOL: 'ALL', RULE_TYPE: 'outbound' },
        },
        body: { rules: DEFAULT_RULES },
      });
    });
  }
}

/** Every security group by id (small: read whole when plans or rule updates need them). */
export async function secgroupsById(
  tx: Pick<TxStore, 'list'> | Store['objects'],
): Promise<Map<number, PoolObject<'secgroup'>>> {
  return new Map((await tx.list('secgroup')).map((g) => [g.id, g]));
}
