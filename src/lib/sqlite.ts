/** The project's SQLite files: opened durable (WAL, synchronous FULL), private to their owner, with a numbered schema brought up to date. */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface SqliteFile {
  /** The data directory (created 0700 when missing), or `:memory:`. */
  dataDir: string | ':memory:';
  file: string;
  /**
   * The schema's migrations in order: `migrations[i]` takes the file from version i to i+1
   * (`PRAGMA user_version`). Never edit a released one; append a new one.
   */
  migrations: readonly string[];
  /** How long a write waits for another process's write (the token CLI beside a running node). */
  busyTimeoutMs?: number;
}

/** Raised when a file was written by a newer release: opening it would lose what that release stores. */
export class SchemaTooNewError extends Error {
  constructor(file: string, found: number, known: number) {
    super(`${file} has schema version ${found}, newer than this release knows (${known}): upgrade the node before opening this data directory`);
    this.name = 'SchemaTooNewError';
  }
}

export function openSqlite(opts: SqliteFile): Database.Database {
  let path = ':memory:';
  if (opts.dataDir !== ':memory:') {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    path = join(opts.dataDir, opts.file);
    // Created 0600 before SQLite opens it: its -wal and -shm files take the same mode.
    closeSync(openSync(path, 'a', 0o600));
  }
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (opts.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${Math.floor(opts.busyTimeoutMs)}`);
    migrate(db, opts.file, opts.migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Applies the migrations the file has not had yet, each in a transaction with its version bump. */
export function migrate(db: Database.Database, file: string, migrations: readonly string[]): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) throw new SchemaTooNewError(file, version, migrations.length);
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
