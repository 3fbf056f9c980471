/** A PromiseLike settled synchronously by the simulator at a simulated instant. */
export class SyncThenable implements PromiseLike<void> {
  private state: 'pending' | 'ok' | 'err' = 'pending';
  private error: unknown;
  private readonly waiters: { ok?: ((v: void) => unknown) | null; err?: ((e: unknown) => unknown) | null }[] = [];

  resolve(): void {
    if (this.state !== 'pending') return;
    this.state = 'ok';
    for (const w of this.waiters.splice(0)) w.ok?.();
  }

  reject(error: unknown): void {
    if (this.state !== 'pending') return;
    this.state = 'err';
    this.error = error;
    for (const w of this.waiters.splice(0)) w.err?.(error);
  }

  then<A = void, B = never>(ok?: ((v: void) => A | PromiseLike<A>) | null, err?: ((e: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B> {
    if (this.state === 'ok') ok?.();
    else if (this.state === 'err') err?.(this.error);
    else this.waiters.push({ ok, err });
    // Chaining is not needed by the agents; return a settled-never thenable of the right type.
    return this as unknown as PromiseLike<A | B>;
  }
}
