import type { ObjectKind } from '../core/model.js';
import type { ObjectTableName } from './schema.js';

export const TABLE_OF: Record<ObjectKind, ObjectTableName> = {
  user: 'users',
  group: 'groups',
  cluster: 'clusters',
  host: 'hosts',
  datastore: 'datastores',
  image: 'images',
  vnet: 'vnets',
  template: 'templates',
  vm: 'vms',
  vmgroup: 'vmgroups',
  secgroup: 'secgroups',
};
