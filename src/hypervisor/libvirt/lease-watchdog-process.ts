/**
 * The lease watchdog of one libvirt host (lease-watchdog.ts starts it): a process of its own, so
 * that it keeps time while the node process is frozen (SIGSTOP), stalled or dead. It holds each
 * guest's lease deadline on the machine's monotonic clock and pauses the guest when its deadline
 * passes. When the node goes away without saying so (a crash), it still applies the deadlines it
 * holds, then exits; when the node closes cleanly it exits at once.
 *
 * Messages from the node: `{ op: 'set', seq, id, deadlineMs }` (deadlineMs null lifts it), answered
 * `{ seq, fired }` — whether the previous deadline of that guest paused it — and `{ op: 'close' }`.
 */
import pino from 'pino';
import { monotonicMs } from '../../lib/monotonic.js';
import { HypervisorError } from '../errors.js';
import { LibvirtConnection } from './connection.js';
import { DomainHandles } from './domain-handles.js';
import { domainInfo } from './domain-state.js';

interface SetMessage {
  op: 'set';
  seq: number;
  id: string;
  deadlineMs: number | null;
}
type Message = SetMessage | { op: 'close' };

const uri = process.argv[2];
const library = process.argv[3] || undefined;
const log = pino({ level: 'info' }, pino.destination(2)).child({ component: 'lease-watchdog', uri });
const deadlines = new Map<string, number>();
/** Guests paused at a deadline the node has not heard of yet. */
const fired = new Set<string>();
let handles: DomainHandles | undefined;
let timer: NodeJS.Timeout | undefined;
let nodeGone = false;
let applying = false;

function send(message: unknown): void {
  if (process.connected) process.send?.(message);
}

function schedule(): void {
  clearTimeout(timer);
  if (deadlines.size === 0) {
    if (nodeGone) process.exit(0);
    return;
  }
  const next = Math.min(...deadlines.values());
  timer = setTimeout(() => void apply(), Math.max(0, next - monotonicMs()));
}

async function pause(id: string): Promise<void> {
  if (!handles) return;
  try {
    if ((await domainInfo(handles, id)).state !== 'running') return;
    await handles.use(id, (dom) => handles!.connection.int('virDomainSuspend', [dom], `suspend ${id}`));
    fired.add(id);
    log.warn({ compute: id }, 'lease deadline passed: the guest is paused');
  } catch (err) {
    if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') return;
    log.error({ err, compute: id }, 'could not pause the guest at its lease deadline');
  }
}

async function apply(): Promise<void> {
  if (applying || !handles) return;
  applying = true;
  try {
    const now = monotonicMs();
    const due = [...deadlines].filter(([, d]) => d <= now).map(([id]) => id);
    for (const id of due) deadlines.delete(id);
    await Promise.all(due.map(pause));
  } finally {
    applying = false;
    schedule();
  }
}

process.on('message', (message: Message) => {
  if (message.op === 'close') process.exit(0);
  const { seq, id, deadlineMs } = message;
  if (deadlineMs === null) deadlines.delete(id);
  else deadlines.set(id, deadlineMs);
  send({ seq, fired: fired.delete(id) });
  schedule();
});
process.on('disconnect', () => {
  nodeGone = true;
  if (deadlines.size > 0) log.warn({ guests: deadlines.size }, 'the node went away: its guests are paused at their lease deadlines');
  schedule();
});

try {
  const connection = await LibvirtConnection.open(uri ?? '', { library });
  handles = new DomainHandles(connection, 256);
  send({ ready: true });
  await apply();
} catch (err) {
  log.error({ err }, 'the lease watchdog cannot reach its libvirt host');
  process.exit(1);
}
