/** The bodies a forwarding target holds between messages: request bodies arriving in chunks, answers' bodies waiting to be pulled. */
/*
 * Each is kept under its sender's key and a transfer id, so that only the member that sent an
 * upload completes it and only the member that asked pulls an answer. An upload is forgotten
 * when its request arrives, an answer when its last part is pulled. Bounded: a body of at most
 * `maxBodyBytes`, `maxBufferedBytes` in all, each kept `ttlMs` at most after its last use.
 */
import { randomInt } from 'node:crypto';
import type { MeshTimers, TimerHandle } from './clock.js';
import type { ChunkMessage, TransferRef } from './forward-codecs.js';

export interface TransferBufferOptions {
  maxBodyBytes: number;
  maxBufferedBytes: number;
  ttlMs: number;
  timers: MeshTimers;
}

interface Held {
  body: Buffer;
  /** Upload: the offsets received, with their lengths. */
  parts: Map<number, number>;
  timer: TimerHandle;
}

/** A failure answered to the member with its code. */
function refusal(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class TransferBuffers {
  private readonly uploads = new Map<string, Held>();
  private readonly downloads = new Map<string, Held>();
  private buffered = 0;
  private nextId = randomInt(1, 2 ** 31);

  constructor(private readonly opts: TransferBufferOptions) {}

  /** A chunk of a request body `fromKey` sends ahead of the request. */
  receive(fromKey: string, chunk: ChunkMessage): void {
    const key = `${fromKey}/${chunk.id}`;
    let held = this.uploads.get(key);
    if (!held) {
      held = this.hold(this.uploads, key, chunk.size);
    } else if (held.body.length !== chunk.size) {
      throw refusal('BAD_MESSAGE', `chunk of transfer ${chunk.id} declares ${chunk.size} bytes, not ${held.body.length}`);
    }
    chunk.bytes.copy(held.body, chunk.offset);
    held.parts.set(chunk.offset, chunk.bytes.length);
    this.touch(this.uploads, key, held);
  }

  /** The whole body of the upload `ref` from `fromKey`, its last part being `tail`; the upload is forgotten. */
  complete(fromKey: string, ref: TransferRef, tail: Buffer): Buffer {
    const key = `${fromKey}/${ref.id}`;
    const held = this.uploads.get(key);
    const received = held ? [...held.parts.values()].reduce((a, b) => a + b, 0) : 0;
    if (!held || held.body.length !== ref.size || received + tail.length !== ref.size) {
      // Parts lost with a connection: the sender repeats the whole request.
      throw refusal('UPLOAD_INCOMPLETE', `body of transfer ${ref.id}: ${received + tail.length} of ${ref.size} bytes received`);
    }
    tail.copy(held.body, ref.size - tail.length);
    this.release(this.uploads, key);
    return held.body;
  }

  /** Keeps the body of an answer for `fromKey` to pull. */
  offer(fromKey: string, body: Buffer): TransferRef {
    const id = this.nextId++;
    const key = `${fromKey}/${id}`;
    const held = this.hold(this.downloads, key, body.length, body);
    this.touch(this.downloads, key, held);
    return { id, size: body.length };
  }

  /** `length` bytes from `offset` of the answer `id` kept for `fromKey`. */
  pull(fromKey: string, id: number, offset: number, length: number): Buffer {
    const key = `${fromKey}/${id}`;
    const held = this.downloads.get(key);
    if (!held) throw refusal('TRANSFER_GONE', `no answer ${id} kept (expired or never made)`);
    if (offset >= held.body.length) throw refusal('BAD_MESSAGE', `offset ${offset} beyond the ${held.body.length} bytes of answer ${id}`);
    const part = held.body.subarray(offset, offset + length);
    // The last part: a pull lost with its connection makes the member repeat the whole request.
    if (offset + part.length >= held.body.length) this.release(this.downloads, key);
    else this.touch(this.downloads, key, held);
    return part;
  }

  /** Forgets everything (the mesh closes). */
  clear(): void {
    for (const map of [this.uploads, this.downloads]) for (const key of [...map.keys()]) this.release(map, key);
  }

  private hold(map: Map<string, Held>, key: string, size: number, body?: Buffer): Held {
    const { maxBodyBytes, maxBufferedBytes } = this.opts;
    if (size > maxBodyBytes) throw refusal('TOO_LARGE', `body of ${size} bytes exceeds ${maxBodyBytes}`);
    if (this.buffered + size > maxBufferedBytes) throw refusal('BUSY', `${this.buffered} bytes of bodies held already`);
    this.buffered += size;
    const held: Held = { body: body ?? Buffer.alloc(size), parts: new Map(), timer: null };
    map.set(key, held);
    return held;
  }

  /** (Re)arms the expiry of a held body. */
  private touch(map: Map<string, Held>, key: string, held: Held): void {
    if (held.timer !== null) this.opts.timers.clearTimer(held.timer);
    held.timer = this.opts.timers.setTimer(this.opts.ttlMs, () => this.release(map, key));
  }

  private release(map: Map<string, Held>, key: string): void {
    const held = map.get(key);
    if (!held) return;
    map.delete(key);
    if (held.timer !== null) this.opts.timers.clearTimer(held.timer);
    this.buffered -= held.body.length;
  }
}
