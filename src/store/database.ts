import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, type SqliteDatabase, SqliteDialect } from 'kysely';
import pg from 'pg';
import { OneError } from '../core/errors.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';

export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; poolSize?: number };

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: DatabaseConfig['kind'];
  /**
   * SQLite only: statements run straight on the one connection, skipping
   * Kysely's per-query machinery (~4 µs a statement) on the store's hottest
   * paths. They run inside whatever transaction is open on the connection, so
   * outside one the caller must hold the connection (Kysely's `connection()`).
   */
  direct?: DirectSqlite;
  close(): Promise<void>;
}

export interface DirectSqlite {
  /** Runs a write statement; returns the rows changed. */
  run: RunWrite;
  /**
   * Hands each result row to `each` as SQLite steps to it, so a large read
   * never holds every raw row at once (they die young instead of being
   * promoted by the garbage collector). `each` must not touch the database.
   */
  each(sql: string, params: readonly unknown[], each: (row: unknown) => void): void;
}

export type RunWrite = (sql: string, params: readonly unknown[]) => number;

const PG_INT8 = 20;

/**
 * Opens the store's database and brings its schema up to date (or up to
 * migration `upTo`). SQLite runs in WAL mode with synchronous=NORMAL (durable
 * across process crashes, which is what `kill -9` tests); PostgreSQL returns BIGINT columns as numbers since
 * every bigint we store is a millisecond timestamp.
 */
export async function openDatabase(config: DatabaseConfig, upTo?: string): Promise<OpenedDatabase> {
  const { db, direct } = config.kind === 'sqlite' ? openSqlite(config.path) : { db: openPostgres(config) };
  try {
    await migrate(db, upTo);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, kind: config.kind, ...(direct ? { direct } : {}), close: () => db.destroy() };
}

function openSqlite(path: string): { db: Kysely<Database>; direct: DirectSqlite } {
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -65536');
  sqlite.pragma('mmap_size = 268435456');
  const database = withStatementCache(sqlite);
  const statement = (text: string) => database.prepare(text) as unknown as SQLite.Statement;
  const direct: DirectSqlite = {
    run: (text, params) => statement(text).run(params as unknown[]).changes,
    each: (text, params, each) => {
      for (const row of statement(text).iterate(params as unknown[])) each(row);
    },
  };
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), direct };
}

const STATEMENT_CACHE_SIZE = 512;

/**
 * Kysely prepares every query anew; better-sqlite3 statements are reusable, and
 * the set of distinct SQL texts an ONEedge server issues is small, so caching
 * them by text removes a prepare from every request.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (source: string) => {
      let stmt = cache.get(source);
      if (!stmt) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        stmt = sqlite.prepare(source);
        cache.set(source, stmt);
      }
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}

function openPostgres(config: { url: string; poolSize?: number }): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? 10,
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === PG_INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
    },
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Applies what is missing, up to and including `upTo` when given (tests of a migration's back-fill). */
async function migrate(db: Kysely<Database>, upTo?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'oneedge_migrations',
    migrationLockTableName: 'oneedge_migrations_lock',
    // Features are built in parallel and numbered as they start, so one may land after a
    // higher-numbered one: apply whatever is missing, in name order.
    allowUnorderedMigrations: true,
  });
  const { error, results } = upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new OneError('E_INTERNAL', `database migration ${failed} failed`, { migration: failed }, { cause: error });
  }
}
