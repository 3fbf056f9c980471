import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { MeshTimers, TimerHandle } from '../../src/mesh/clock.js';
import { EVENT_HEARTBEAT, EVENT_HELLO, Membership, type Member, type MembershipEvent, type MembershipMessage, type MembershipTransport } from '../../src/mesh/membership.js';

const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 3000;
const GRACE_MS = 500;

/** A manual clock: timers run when `advance` passes their time. */
class ManualTimers implements MeshTimers {
  private time = 0;
  private readonly timers = new Map<number, { at: number; every: number | null; fn: () => void }>();
  private nextId = 0;

  now(): number {
    return this.time;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    this.timers.set(++this.nextId, { at: this.time + ms, every: null, fn });
    return this.nextId;
  }
  setRepeating(ms: number, fn: () => void): TimerHandle {
    this.timers.set(++this.nextId, { at: this.time + ms, every: ms, fn });
    return this.nextId;
  }
  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, t] = due;
      this.time = t.at;
      if (t.every === null) this.timers.delete(id);
      else t.at += t.every;
      t.fn();
    }
    this.time = end;
  }
}

/** Connections as plain sets: what was sent, and who was disconnected. */
class FakeTransport implements MembershipTransport {
  readonly connected = new Set<string>();
  readonly sent: Array<{ to: string; method: MembershipEvent; payload: MembershipMessage }> = [];
  readonly disconnected: string[] = [];
  connectedPeers(): Iterable<string> {
    return [...this.connected];
  }
  isConnected(key: string): boolean {
    return this.connected.has(key);
  }
  send(to: string, method: MembershipEvent, payload: MembershipMessage): void {
    this.sent.push({ to, method, payload });
  }
  disconnect(key: string): void {
    this.disconnected.push(key);
  }
}

function setup(): { membership: Membership; transport: FakeTransport; timers: ManualTimers; left: Array<[string, string]> } {
  const transport = new FakeTransport();
  const timers = new ManualTimers();
  const membership = new Membership({
    info: { name: 'self', httpAddress: null, site: 'FR', capacity: null, seq: 1 },
    transport,
    timers,
    log: pino({ level: 'silent' }),
    coordinate: () => ({ vec: [1, 2], error: 1, adjustment: 0, height: 0 }),
    heartbeatMs: HEARTBEAT_MS,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    reconnectGraceMs: GRACE_MS,
  });
  const left: Array<[string, string]> = [];
  membership.on('member-left', (m, reason) => left.push([m.key, reason]));
  return { membership, transport, timers, left };
}

const hello = (name: string, seq: number): MembershipMessage => ({ info: { name, httpAddress: null, site: 'DE', capacity: null, seq }, c: null });

/** Peer `key` connects and says hello. */
function join(s: ReturnType<typeof setup>, key: string): void {
  s.transport.connected.add(key);
  s.membership.linkUp(key);
  s.membership.receive(key, EVENT_HELLO, hello(key, 1));
}

describe('membership over a transport port and a manual clock', () => {
  it('says hello on a new link, and learns members from their hellos', () => {
    const s = setup();
    const joined: Member[] = [];
    const updated: Member[] = [];
    s.membership.on('member-joined', (m) => joined.push(m));
    s.membership.on('member-updated', (m) => updated.push(m));
    join(s, 'b');
    expect(s.transport.sent[0]).toMatchObject({ to: 'b', method: EVENT_HELLO, payload: { info: { name: 'self', site: 'FR', seq: 1 } } });
    expect(joined.map((m) => [m.key, m.name, m.site])).toEqual([['b', 'b', 'DE']]);
    s.membership.receive('b', EVENT_HELLO, hello('b', 1));
    expect(updated).toHaveLength(0);
    s.membership.receive('b', EVENT_HELLO, hello('b-renamed', 2));
    expect(updated.map((m) => m.name)).toEqual(['b-renamed']);
    s.membership.update({ site: 'ES' });
    expect(s.transport.sent.at(-1)).toMatchObject({ to: 'b', method: EVENT_HELLO, payload: { info: { site: 'ES', seq: 2 } } });
  });

  it('sends heartbeats, and disconnects a member silent for longer than the heartbeat timeout', () => {
    const s = setup();
    s.membership.start();
    join(s, 'b');
    join(s, 'c');
    for (let t = 0; t < 4; t++) {
      s.timers.advance(HEARTBEAT_MS);
      s.membership.receive('c', EVENT_HEARTBEAT, { c: null });
    }
    expect(s.transport.disconnected).toEqual(['b']);
    expect(s.transport.sent.filter((m) => m.method === EVENT_HEARTBEAT && m.to === 'c')).toHaveLength(4);
  });

  it('keeps a member whose connection is replaced within the grace, loses one whose connection is not', () => {
    const s = setup();
    join(s, 'b');
    join(s, 'c');
    for (const key of ['b', 'c']) {
      s.transport.connected.delete(key);
      s.membership.linkDown(key, false);
    }
    expect(s.membership.isReconnecting('b')).toBe(true);
    s.timers.advance(GRACE_MS - 1);
    s.transport.connected.add('b');
    s.membership.linkUp('b');
    s.timers.advance(1);
    expect(s.left).toEqual([['c', 'connection closed']]);
    expect(s.membership.has('b')).toBe(true);
    expect(s.membership.isReconnecting('b')).toBe(false);
  });

  it('loses a member at once when its key is revoked, or once stopped', () => {
    const s = setup();
    join(s, 'b');
    join(s, 'c');
    s.membership.linkDown('b', true);
    s.membership.stop();
    s.membership.linkDown('c', false);
    expect(s.left).toEqual([
      ['b', 'revoked'],
      ['c', 'connection closed'],
    ]);
  });
});
