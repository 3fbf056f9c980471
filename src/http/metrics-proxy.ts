/**
 * A timing Proxy: every asynchronous method called on the object is timed and its outcome
 * reported, the object otherwise unchanged (the hypervisor and the mesh in src/node.ts, for
 * /metrics). Methods run on the object itself, so private fields (`#x`) keep working.
 *
 * @example
 *   const hv = timed(hypervisor, (method, _args, seconds, err) => calls.labels(method, err ? 'error' : 'ok').inc());
 *   await hv.startDomain(id);   // timed; hv.uri, hv.watch(…) pass through untouched
 */

export type CallObserver = (method: string, args: readonly unknown[], seconds: number, error: unknown) => void;

/** The object behind each timing Proxy: handed back unwrapped when passed as an argument (e.g. a migration target). */
const behind = new WeakMap<object, object>();

export function timed<T extends object>(target: T, observe: CallObserver, only?: ReadonlySet<string>): T {
  const wrapped = new Map<PropertyKey, unknown>();
  const proxy = new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        fn = only && !only.has(prop) ? value.bind(t) : timedMethod(t, prop, value as (...a: unknown[]) => unknown, observe);
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
  behind.set(proxy, target);
  return proxy;
}

function timedMethod(target: object, name: string, method: (...a: unknown[]) => unknown, observe: CallObserver) {
  return (...args: unknown[]): unknown => {
    const unwrapped = args.map((a) => (typeof a === 'object' && a !== null ? (behind.get(a) ?? a) : a));
    const started = performance.now();
    const result = method.apply(target, unwrapped);
    // Synchronous methods (watch, …) are not calls to the infrastructure: passed through.
    if (!(result instanceof Promise)) return result;
    const seconds = () => (performance.now() - started) / 1000;
    return result.then(
      (value: unknown) => (observe(name, args, seconds(), undefined), value),
      (err: unknown) => {
        observe(name, args, seconds(), err ?? new Error('rejected'));
        throw err;
      },
    );
  };
}
