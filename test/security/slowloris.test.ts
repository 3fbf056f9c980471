import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, rawSocket, type LimitedNode, startLimitedNode } from './limit-helpers.js';

// Small server timeouts so that the test is short; the defaults are 10 s and 30 s.
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
const PER_ADDRESS = 30;
const SLOW = 50;
const ATTACKER = '127.0.0.2';

let node: LimitedNode;
beforeAll(async () => {
  node = await startLimitedNode({ limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, connectionsPerAddress: PER_ADDRESS } });
});
afterAll(() => node.dispose());

interface Slow {
  socket: Socket;
  kind: 'idle' | 'headers' | 'body';
  opened: number;
  closedAfterMs?: number;
  answer: string;
  closed: Promise<void>;
}

/** A slow client: connects, then sends nothing, or its headers, or its body, a few bytes at a time. */
async function slowClient(kind: Slow['kind']): Promise<Slow> {
  const socket = await rawSocket(node.url, ATTACKER);
  const slow: Slow = { socket, kind, opened: performance.now(), answer: '', closed: Promise.resolve() };
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (slow.answer += d));
  socket.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  slow.closed = new Promise((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      slow.closedAfterMs = performance.now() - slow.opened;
      resolve();
    }),
  );
  const drip = (text: () => string) => {
    timer = setInterval(() => socket.writable && socket.write(text()), 150);
  };
  if (kind === 'headers') {
    socket.write('GET /-/ HTTP/1.1\r\nHost: node\r\n');
    let i = 0;
    drip(() => `X-Drip-${i++}: x\r\n`);
  } else if (kind === 'body') {
    socket.write('POST /compute/ HTTP/1.1\r\nHost: node\r\nContent-Type: application/occi+json\r\nContent-Length: 100000\r\n\r\n{');
    drip(() => ' ');
  }
  return slow;
}

async function timedGet(): Promise<number> {
  const t0 = performance.now();
  const res = await call(node.url, '/compute/');
  expect(res.status).toBe(200);
  return performance.now() - t0;
}

const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: Number(s[Math.floor(s.length / 2)]!.toFixed(1)), max: Number(s[s.length - 1]!.toFixed(1)) };
};

describe('slow clients cannot hold a node', () => {
  it(`${SLOW} slow sockets from one address: the others are served at once, the slow ones are cut`, async () => {
    for (let i = 0; i < 30; i++) await timedGet(); // warm-up (JIT, first connections)
    const before: number[] = [];
    for (let i = 0; i < 50; i++) before.push(await timedGet());

    const kinds: Array<Slow['kind']> = ['idle', 'headers', 'body'];
    const slow = await Promise.all(Array.from({ length: SLOW }, (_, i) => slowClient(kinds[i % 3]!)));
    const during: number[] = [];
    const t0 = performance.now();
    // A normal client (another address) meanwhile: answered as quickly as before.
    while (performance.now() - t0 < REQUEST_TIMEOUT_MS) during.push(await timedGet());

    // Every slow socket is closed by the server: the ones over the per-address cap at once, the
    // others when their headers or whole request did not arrive in time (bounded wait).
    await Promise.race([Promise.all(slow.map((s) => s.closed)), new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + 4000))]);
    const open = slow.filter((s) => s.closedAfterMs === undefined);
    for (const s of open) s.socket.destroy();
    expect(open.length, 'slow sockets the server left open').toBe(0);

    const capped = slow.filter((s) => s.answer === '' && s.closedAfterMs! < HEADERS_TIMEOUT_MS / 2);
    const timedOut = slow.filter((s) => /^HTTP\/1\.1 408 /.test(s.answer));
    expect(capped.length).toBe(SLOW - PER_ADDRESS);
    expect(timedOut.length).toBe(PER_ADDRESS);
    for (const s of timedOut) {
      const limit = s.kind === 'body' ? REQUEST_TIMEOUT_MS : HEADERS_TIMEOUT_MS;
      expect(s.closedAfterMs!, s.kind).toBeGreaterThanOrEqual(limit * 0.9);
      expect(s.closedAfterMs!, s.kind).toBeLessThan(limit + 1500);
      // The method is known once the headers are in: then the answer has an OCCI body.
      if (s.kind === 'body') expect(s.answer).toContain('"code":"REQUEST_TIMEOUT"');
    }

    const b = summary(before);
    const d = summary(during);
    console.log(`GET /compute/ without slow clients: p50 ${b.p50} ms, max ${b.max} ms; with ${SLOW} slow sockets open: p50 ${d.p50} ms, max ${d.max} ms (${during.length} requests)`);
    expect(during.length).toBeGreaterThan(10);
    expect(d.max).toBeLessThan(1000);
    // Once the slow ones are gone, the attacker's address may connect again.
    expect((await call(node.url, '/-/', { localAddress: ATTACKER })).status).toBe(200);
  }, 30_000);
});
