import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './001-initial.js';
import { objectJson } from './002-object-json.js';
import { monitoring } from './003-monitoring.js';
import { networks } from './004-networks.js';
import { vmGroups } from './007-vm-groups.js';
import { needsWorkColumn } from './008-vm-needs-work.js';
import { schedPendingColumn } from './009-vm-sched-pending.js';
import { dropObjectJson } from './010-drop-object-json.js';

/**
 * Versioned migrations, applied in name order. Never edit a released
 * migration: add a new file and list it here.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '001-initial': initial,
  '002-object-json': objectJson,
  '003-monitoring': monitoring,
  '004-networks': networks,
  '007-vm-groups': vmGroups,
  '008-vm-needs-work': needsWorkColumn,
  '009-vm-sched-pending': schedPendingColumn,
  '010-drop-object-json': dropObjectJson,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS;
  },
};
