import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/store/index.js';

export interface TestDatabase {
  label: 'sqlite' | 'postgres';
  config: DatabaseConfig;
  drop(): Promise<void>;
}

/**
 * The databases a store test must run on: SQLite always, PostgreSQL when
 * ONEEDGE_TEST_PG_URL is set. In CI (CI=true) PostgreSQL is mandatory, so a
 * missing server fails the run instead of silently skipping.
 */
export function databaseKinds(): Array<'sqlite' | 'postgres'> {
  const url = process.env.ONEEDGE_TEST_PG_URL;
  if (!url && process.env.CI === 'true') {
    throw new Error('ONEEDGE_TEST_PG_URL must be set in CI (see .ci/run and scripts/start-postgres)');
  }
  return url ? ['sqlite', 'postgres'] : ['sqlite'];
}

/** Why PostgreSQL variants are skipped on this machine, or false when they run. */
export function postgresSkipReason(): string | false {
  return process.env.ONEEDGE_TEST_PG_URL ? false : 'ONEEDGE_TEST_PG_URL is not set (scripts/start-postgres prints it)';
}

/** A fresh, empty database of the given kind; `drop()` removes it. */
export async function freshDatabase(label: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (label === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'oneedge-db-'));
    return {
      label,
      config: { kind: 'sqlite', path: join(dir, 'one.db') },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const base = process.env.ONEEDGE_TEST_PG_URL;
  if (!base) throw new Error('ONEEDGE_TEST_PG_URL is not set');
  const name = `oneedge_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    label,
    config: { kind: 'postgres', url: url.toString(), poolSize: 4 },
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
