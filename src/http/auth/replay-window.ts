/**
 * Anti-replay windows over sequence numbers, one per sender, as IPsec's (RFC 4303 §3.4.3): the
 * highest number seen and a bitmap of the `size` numbers below it. A number above the top moves
 * the window; one inside it is accepted once; one below it is refused. A sender's `boot` (a
 * counter of its starts, which only grows) restarts its numbering: an earlier boot is refused,
 * a later one opens a fresh window. No clock is read.
 *
 * @example
 *   const windows = new ReplayWindows();
 *   windows.accept('node-a', 3, 1); // 'fresh'
 *   windows.accept('node-a', 3, 1); // 'replayed'
 *   windows.accept('node-a', 2, 9); // 'earlier-boot'
 */
import { LRUCache } from 'lru-cache';

export const DEFAULT_WINDOW_SIZE = 8192;
/** Senders tracked at most (members of one mesh); the least recently heard is forgotten first. */
export const DEFAULT_MAX_SENDERS = 4096;

export type ReplayVerdict = 'fresh' | 'replayed' | 'below-window' | 'earlier-boot';

interface Window {
  boot: number;
  top: number;
  bits: Uint8Array;
}

export class ReplayWindows {
  private readonly windows: LRUCache<string, Window>;

  constructor(
    private readonly size = DEFAULT_WINDOW_SIZE,
    maxSenders = DEFAULT_MAX_SENDERS,
  ) {
    if (size % 8 !== 0 || size <= 0) throw new RangeError('the window size is a positive multiple of 8');
    this.windows = new LRUCache({ max: maxSenders });
  }

  /** Whether (boot, seq) from `sender` is new; a fresh one is recorded. */
  accept(sender: string, boot: number, seq: number): ReplayVerdict {
    let w = this.windows.get(sender);
    if (w && boot < w.boot) return 'earlier-boot';
    if (!w || boot > w.boot) {
      w = { boot, top: 0, bits: new Uint8Array(this.size / 8) };
      this.windows.set(sender, w);
    }
    if (seq > w.top) {
      // Numbers skipped between the old top and this one become open slots of the window.
      if (seq - w.top >= this.size) w.bits.fill(0);
      else for (let s = w.top + 1; s < seq; s++) this.clear(w, s);
      w.top = seq;
      this.set(w, seq);
      return 'fresh';
    }
    if (seq <= w.top - this.size) return 'below-window';
    if (this.isSet(w, seq)) return 'replayed';
    this.set(w, seq);
    return 'fresh';
  }

  private set(w: Window, seq: number): void {
    const i = seq % this.size;
    w.bits[i >> 3]! |= 1 << (i & 7);
  }

  private clear(w: Window, seq: number): void {
    const i = seq % this.size;
    w.bits[i >> 3]! &= ~(1 << (i & 7));
  }

  private isSet(w: Window, seq: number): boolean {
    const i = seq % this.size;
    return (w.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }
}
