import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './001-initial.js';

/**
 * Versioned migrations, applied in name order. Never edit a released
 * migration: add a new file and list it here.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '001-initial': initial,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS;
  },
};
