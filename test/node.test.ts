import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startNode } from '../src/node.js';

/** The files of `dir` this process holds open (SQLite databases, their WAL, the audit log…). */
function openFilesIn(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed between the listing and the read
    }
  });
}

describe('the composition root', () => {
  const dirs: string[] = [];
  let blocker: Server | undefined;
  afterEach(async () => {
    blocker?.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('undoes what it started when a later step fails (the port is taken): no file of the data directory stays open', async () => {
    blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'occi-compose-'));
    dirs.push(dataDir);
    const logger = pino({ level: 'silent' });
    await expect(startNode({ port: taken, dataDir, hypervisor: 'sim', logger, auth: 'none' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(openFilesIn(dataDir)).toEqual([]);
    // The same data directory starts cleanly afterwards, and holds its files while it runs.
    const node = await startNode({ port: 0, dataDir, hypervisor: 'sim', logger, auth: 'none' });
    expect(openFilesIn(dataDir).length).toBeGreaterThan(0);
    await node.close();
    expect(openFilesIn(dataDir)).toEqual([]);
  });
});
