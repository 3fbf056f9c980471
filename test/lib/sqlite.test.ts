import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, SchemaTooNewError } from '../../src/lib/sqlite.js';

describe('SQLite files', () => {
  const dirs: string[] = [];
  const newDir = () => {
    const d = join(mkdtempSync(join(tmpdir(), 'sqlite-')), 'data');
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(join(d, '..'), { recursive: true, force: true });
  });

  it('brings a file up to the newest schema, applying each migration once, and keeps data across versions', () => {
    const dataDir = newDir();
    const v1 = ['CREATE TABLE t (a TEXT)'];
    const db1 = openSqlite({ dataDir, file: 'x.db', migrations: v1 });
    db1.prepare('INSERT INTO t VALUES (?)').run('kept');
    expect(db1.pragma('user_version', { simple: true })).toBe(1);
    db1.close();
    // Reopened with one more migration: only the new one runs (the first would fail: t exists).
    const db2 = openSqlite({ dataDir, file: 'x.db', migrations: [...v1, 'ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 7'] });
    expect(db2.pragma('user_version', { simple: true })).toBe(2);
    expect(db2.prepare('SELECT a, b FROM t').all()).toEqual([{ a: 'kept', b: 7 }]);
    expect(db2.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db2.pragma('synchronous', { simple: true })).toBe(2); // FULL
    db2.close();
  });

  it('leaves the file at its version when a migration fails (each runs in a transaction)', () => {
    const dataDir = newDir();
    openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE t (a TEXT)'] }).close();
    expect(() => openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE t (a TEXT)', 'CREATE TABLE u (b TEXT); INSERT INTO nowhere VALUES (1)'] })).toThrow(/nowhere/);
    const raw = new Database(join(dataDir, 'x.db'));
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'u'").all()).toEqual([]);
    raw.close();
  });

  it('refuses a file written by a newer release, and changes nothing in it', () => {
    const dataDir = newDir();
    openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE t (a TEXT)', 'CREATE TABLE u (b TEXT)'] }).close();
    expect(() => openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE t (a TEXT)'] })).toThrow(SchemaTooNewError);
  });

  it('keeps the data directory and the files private to their owner (0700, 0600)', () => {
    const dataDir = newDir();
    const db = openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE t (a TEXT)'] });
    db.prepare('INSERT INTO t VALUES (?)').run('x');
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const f of ['x.db', 'x.db-wal']) expect(statSync(join(dataDir, f)).mode & 0o777, f).toBe(0o600);
    db.close();
  });

  it('opens a pre-versioned file (user_version 0) whose tables exist already', () => {
    const dataDir = newDir();
    openSqlite({ dataDir, file: 'x.db', migrations: [] }).close();
    const raw = new Database(join(dataDir, 'x.db'));
    raw.exec("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('old')");
    raw.close();
    const db = openSqlite({ dataDir, file: 'x.db', migrations: ['CREATE TABLE IF NOT EXISTS t (a TEXT)'] });
    expect(db.prepare('SELECT a FROM t').all()).toEqual([{ a: 'old' }]);
    db.close();
  });
});
