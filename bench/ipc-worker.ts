/**
 * A benchmark's child process driven over IPC: commands sent, replies awaited by their type
 * (`t`), other messages (events) handed to `onEvent`. The child sends `{ t: 'ready' }` first.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface IpcWorker<C> {
  child: ChildProcess;
  /** The next message of type `t`. */
  next<R = Record<string, unknown>>(t: string): Promise<R>;
  send(cmd: C): void;
}

/**
 * Forks `file` (TypeScript, through tsx) with its settings in the environment variable `envName`
 * (JSON); resolves once it is ready. Messages whose type is in `events` go to `onEvent`.
 */
export function forkWorker<C>(file: string, envName: string, settings: object, events: readonly string[], onEvent: (m: Record<string, unknown>) => void): Promise<IpcWorker<C>> {
  const child = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, [envName]: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, Array<(m: Record<string, unknown>) => void>>();
  child.on('message', (m: Record<string, unknown>) => {
    if (events.includes(m['t'] as string)) return onEvent(m);
    waiting.get(m['t'] as string)?.shift()?.(m);
  });
  const worker: IpcWorker<C> = {
    child,
    next: <R>(t: string) => new Promise<R>((resolve) => waiting.set(t, [...(waiting.get(t) ?? []), resolve as (m: Record<string, unknown>) => void])),
    // A child that died (its exit is the caller's to report) takes no more commands.
    send: (cmd) => void (child.connected && child.send(cmd as object)),
  };
  return worker.next('ready').then(() => worker);
}
