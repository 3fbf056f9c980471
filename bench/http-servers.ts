/**
 * The two servers of `npm run bench:http`, in their own process so the load generator does not
 * share their event loop: a bare express handler, and an OCCI node holding one compute.
 * Prints one JSON line with their URLs and the compute's location.
 */
import express from 'express';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startNode } from '../src/node.js';

const node = await startNode({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'bench-http-')), logger: pino({ level: 'silent' }), auth: 'none' });
const created = await fetch(`${node.url}/compute/`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/occi+json' },
  body: JSON.stringify({ kind: 'http://schemas.ogf.org/occi/infrastructure#compute', attributes: { 'occi.core.title': 'bench' } }),
});
const location = created.headers.get('location')!;
const document = await (await fetch(`${node.url}${location}`, { headers: { Accept: 'application/occi+json' } })).text();

// The baseline answers the same document, as a constant, from one route.
const bare = express();
bare.get('/compute/:id', (_req, res) => {
  res.type('application/occi+json').send(document);
});
const server = bare.listen(0, '127.0.0.1');
await once(server, 'listening');

console.log(JSON.stringify({ occi: `${node.url}${location}`, bare: `http://127.0.0.1:${(server.address() as AddressInfo).port}${location}` }));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
