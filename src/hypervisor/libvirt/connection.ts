import { HypervisorError } from '../errors.js';
import { loadLibvirt, type ConnPtr, type LibvirtBinding, type LibvirtFunctionName } from './binding.js';
import { fromLibvirt } from './error-map.js';

/**
 * How libvirt calls run. `async`: on koffi's worker threads, so a slow daemon
 * never blocks the event loop. `sync`: on the calling thread. `auto` (default):
 * `sync` for `test:` URIs — the test driver is in-process memory work taking
 * microseconds, less than one thread hop (~40 µs) — and `async` for all others.
 */
export type CallMode = 'auto' | 'sync' | 'async';

export const DEFAULT_CALL_MODE: CallMode = 'auto';

export interface LibvirtConnectionOptions {
  callMode?: CallMode;
  /** Shared library to load, `libvirt.so.0` when absent. */
  library?: string;
}

/** Opens are serialized so a failed open's error (reported without a connection) is attributable. */
let openChain: Promise<unknown> = Promise.resolve();

export function isInProcessUri(uri: string): boolean {
  return uri.startsWith('test:');
}

function resolveMode(mode: CallMode, uri: string): 'sync' | 'async' {
  if (mode !== 'auto') return mode;
  return isInProcessUri(uri) ? 'sync' : 'async';
}

function callAsync(binding: LibvirtBinding, name: LibvirtFunctionName, args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    binding.fn[name].async(...args, (err: unknown, result: unknown) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * One libvirt connection. Calls on it are serialized in async mode: libvirt keeps
 * the last error per thread and per connection, and reading the connection's copy
 * right after the failed call is only unambiguous when no other call overlaps.
 */
export class LibvirtConnection {
  readonly uri: string;
  readonly binding: LibvirtBinding;
  readonly mode: 'sync' | 'async';
  readonly #ptr: ConnPtr;
  #chain: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;

  private constructor(uri: string, binding: LibvirtBinding, ptr: ConnPtr, mode: 'sync' | 'async') {
    this.uri = uri;
    this.binding = binding;
    this.#ptr = ptr;
    this.mode = mode;
  }

  static async open(uri: string, opts: LibvirtConnectionOptions = {}): Promise<LibvirtConnection> {
    const binding = loadLibvirt(opts.library);
    const mode = resolveMode(opts.callMode ?? DEFAULT_CALL_MODE, uri);
    const attempt = openChain.then(async () => {
      binding.takeUnboundError();
      const ptr =
        mode === 'sync'
          ? (binding.fn.virConnectOpen(uri) as ConnPtr | null)
          : ((await callAsync(binding, 'virConnectOpen', [uri])) as ConnPtr | null);
      if (ptr === null) {
        const detail = mode === 'sync' ? binding.threadError() : binding.takeUnboundError();
        throw fromLibvirt(detail, `open ${uri}`, 'UNREACHABLE');
      }
      binding.silence(ptr);
      return new LibvirtConnection(uri, binding, ptr, mode);
    });
    openChain = attempt.catch(() => {});
    return attempt;
  }

  /** The raw `virConnectPtr`, for direct binding calls (tests, benchmarks). */
  get ptr(): ConnPtr {
    if (this.#closing !== undefined) throw HypervisorError.CLOSED(`connection ${this.uri}`);
    return this.#ptr;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Calls `name(...args)`; `failed(result)` says whether libvirt reported an
   * error, which is then thrown as a HypervisorError with its number and message.
   */
  call<T>(name: LibvirtFunctionName, args: unknown[], failed: (result: T) => boolean, during: string): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(HypervisorError.CLOSED(`connection ${this.uri}`));
    if (this.mode === 'sync') {
      try {
        const result = this.binding.fn[name](...args) as T;
        if (failed(result)) return Promise.reject(fromLibvirt(this.binding.threadError(), during));
        return Promise.resolve(result);
      } catch (cause) {
        return Promise.reject(HypervisorError.INTERNAL(`${during}: ${String(cause)}`, { cause }));
      }
    }
    const run = this.#chain.then(async () => {
      const result = (await callAsync(this.binding, name, args)) as T;
      if (failed(result)) throw fromLibvirt(this.binding.connectionError(this.#ptr), during);
      return result;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** A call returning a handle (NULL on error). */
  handle<T>(name: LibvirtFunctionName, args: unknown[], during: string): Promise<T> {
    return this.call<T | null>(name, args, (r) => r === null, during) as Promise<T>;
  }

  /**
   * A lookup returning a handle, or null when libvirt reports `missing` (its not-found number):
   * existence checks then build no error. Any other failure is thrown as usual.
   */
  lookup<T>(name: LibvirtFunctionName, args: unknown[], missing: number, during: string): Promise<T | null> {
    if (this.#closing !== undefined) return Promise.reject(HypervisorError.CLOSED(`connection ${this.uri}`));
    const settle = (result: T | null, detail: () => ReturnType<LibvirtBinding['threadError']>): T | null => {
      if (result !== null) return result;
      const error = detail();
      if (error?.number === missing) return null;
      throw fromLibvirt(error, during);
    };
    if (this.mode === 'sync') {
      let result: T | null;
      try {
        result = this.binding.fn[name](...args) as T | null;
      } catch (cause) {
        return Promise.reject(HypervisorError.INTERNAL(`${during}: ${String(cause)}`, { cause }));
      }
      try {
        return Promise.resolve(settle(result, () => this.binding.threadError()));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const run = this.#chain.then(async () =>
      settle((await callAsync(this.binding, name, args)) as T | null, () => this.binding.connectionError(this.#ptr)),
    );
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Whether a lookup finds something (freeing it at once with `free`); `missing` is libvirt's not-found number. */
  async exists(name: LibvirtFunctionName, args: unknown[], missing: number, free: LibvirtFunctionName, during: string): Promise<boolean> {
    const handle = await this.lookup(name, args, missing, during);
    if (handle === null) return false;
    this.binding.fn[free](handle);
    return true;
  }

  /** A call returning an int (-1 on error). */
  int(name: LibvirtFunctionName, args: unknown[], during: string): Promise<number> {
    return this.call<number>(name, args, (r) => r < 0, during);
  }

  /** A call returning a string (NULL on error). */
  string(name: LibvirtFunctionName, args: unknown[], during: string): Promise<string> {
    return this.call<string | null>(name, args, (r) => r === null, during) as Promise<string>;
  }

  /** Lets queued calls finish, then closes the connection. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#chain.then(() => {
      this.binding.fn.virConnectClose(this.#ptr);
    });
    return this.#closing;
  }
}
