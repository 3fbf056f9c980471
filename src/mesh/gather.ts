/** Scatter-gather: one call to every member at once, collecting the replies that arrive by a deadline. */
import { MeshError } from './errors.js';
import type { JsonValue } from './wire.js';

export interface GatherOptions {
  deadlineMs?: number;
  /** Call the local handler too (default true). */
  includeSelf?: boolean;
  /** Call these members only (keys), instead of every member. */
  only?: readonly string[];
}

export interface GatherResult<T> {
  replies: Array<{ key: string; name: string; value: T }>;
  /** Members without a reply by the deadline or whose call failed. */
  missing: Array<{ key: string; name: string; code: string; message: string }>;
}

/** What a gather runs over: the members, this node and its handlers, and the RPC client. */
export interface GatherScope {
  self: { key: string; name: string };
  members: ReadonlyArray<{ key: string; name: string }>;
  /** The local handler of a method. */
  handler(method: string): ((payload: JsonValue, fromKey: string) => unknown) | undefined;
  request<T>(peerKey: string, method: string, payload: JsonValue, options: { timeoutMs: number; idempotent: boolean }): Promise<T>;
}

/** Never rejects: members that missed the deadline, or whose call failed, are listed in `missing`. */
export async function gather<T>(
  scope: GatherScope,
  method: string,
  payload: JsonValue,
  deadlineMs: number,
  includeSelf: boolean,
): Promise<GatherResult<T>> {
  const result: GatherResult<T> = { replies: [], missing: [] };
  const calls = scope.members.map(async (m) => {
    try {
      const value = await scope.request<T>(m.key, method, payload, { timeoutMs: deadlineMs, idempotent: true });
      result.replies.push({ key: m.key, name: m.name, value });
    } catch (err) {
      const e = err instanceof MeshError ? err : MeshError.CLOSED('call failed', err);
      result.missing.push({ key: m.key, name: m.name, code: e.code, message: e.message });
    }
  });
  if (includeSelf) calls.push(gatherLocally(scope, method, payload, deadlineMs, result));
  await Promise.all(calls);
  return result;
}

async function gatherLocally<T>(scope: GatherScope, method: string, payload: JsonValue, deadlineMs: number, result: GatherResult<T>): Promise<void> {
  const { key, name } = scope.self;
  const h = scope.handler(method);
  try {
    if (!h) throw MeshError.NO_HANDLER(method);
    const value = (await withTimeout(Promise.resolve(h(payload, key)), deadlineMs)) as T;
    result.replies.push({ key, name, value });
  } catch (err) {
    const e = err instanceof MeshError ? err : MeshError.REMOTE_ERROR(String((err as Error)?.message ?? err));
    result.missing.push({ key, name, code: e.code, message: e.message });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(MeshError.TIMEOUT(ms)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
