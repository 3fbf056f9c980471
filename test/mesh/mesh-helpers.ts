import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import { Mesh, type MeshOptions } from '../../src/mesh/mesh.js';

export const SECRET = 'test-cluster-secret';

/** A loopback testnet plus the meshes created on it; `dispose()` destroys everything. */
export class MeshFixture {
  readonly meshes: Mesh[] = [];
  readonly dirs: string[] = [];
  private constructor(readonly testnet: Testnet) {}

  static async create(): Promise<MeshFixture> {
    return new MeshFixture(await createTestnet(3, { host: '127.0.0.1' }));
  }

  tmpDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'mesh-test-'));
    this.dirs.push(d);
    return d;
  }

  node(name: string, options: Partial<MeshOptions> = {}): Mesh {
    const mesh = new Mesh({
      secret: SECRET,
      bootstrap: this.testnet.bootstrap,
      name,
      logger: pino({ level: 'silent' }),
      ...options,
    });
    this.meshes.push(mesh);
    return mesh;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.meshes.map((m) => m.destroy()));
    await this.testnet.destroy();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Resolves with the first emission of `event` whose first argument satisfies `match`. */
export function once<T>(
  emitter: { on(e: string, l: (arg: T) => void): unknown; off(e: string, l: (arg: T) => void): unknown },
  event: string,
  match: (arg: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (arg: T): void => {
      if (!match(arg)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(arg);
    };
    emitter.on(event, listener);
  });
}
