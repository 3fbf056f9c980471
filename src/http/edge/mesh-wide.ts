/**
 * Mesh-wide calls that never miss a member silently. A gather reaches the members this node has
 * a connection to; a member of the mesh this node has none to (Hyperswarm dials at most
 * `maxPeers`, a revoked or broken link) would be absent from the answer without a word. So each
 * call carries the members it asks (key prefixes), and each member answers, beside its value,
 * the members it is connected to that are not among them: those are named missing too, with
 * the members that timed out or failed.
 *
 * @example
 *   handleMeshWide(mesh, 'occi/list', (payload) => listHere(payload));
 *   const { replies, missing } = await gatherMeshWide<Listed>(mesh, 'occi/list', { path }, 3000);
 *   if (missing.length) res.setHeader(PARTIAL_HEADER, partialHeader(missing));
 */
import type { JsonValue, Mesh } from '../../mesh/mesh.js';

/** Hex digits of a member key a call names it by: 64 bits tell members apart. */
const PREFIX = 16;
/** The request field listing the members asked. */
const ASKED = 'meshWideAsked';

export interface MeshWideResult<T> {
  replies: Array<{ key: string; name: string; value: T }>;
  /** Members whose part is missing: no answer by the deadline, a failed call, or no connection from this node. */
  missing: Array<{ key: string; name: string; reason: string }>;
}

interface Envelope {
  meshWide: 1;
  value: JsonValue;
  others: Array<{ key: string; name: string }>;
}

const isEnvelope = (v: unknown): v is Envelope => typeof v === 'object' && v !== null && (v as { meshWide?: unknown }).meshWide === 1 && Array.isArray((v as Envelope).others);

/** Serves `method` for mesh-wide calls: the handler's value, and the members the caller did not ask. */
export function handleMeshWide(mesh: Mesh, method: string, handler: (payload: Record<string, JsonValue>, fromKey: string) => unknown): void {
  mesh.handle(method, async (payload, fromKey) => {
    const body = (payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : {}) as Record<string, JsonValue>;
    const value = (await handler(body, fromKey)) as JsonValue;
    const asked = body[ASKED];
    // A caller of an earlier version names nobody: it gets the value alone.
    if (!Array.isArray(asked)) return value;
    const known = new Set(asked.filter((k): k is string => typeof k === 'string'));
    const others = mesh.members().filter((m) => m.key !== fromKey && !known.has(m.key.slice(0, PREFIX)));
    return { meshWide: 1, value, others: others.map((m) => ({ key: m.key, name: m.name })) } satisfies Envelope as unknown as JsonValue;
  });
}

/** Calls `method` on every member this node is connected to; never rejects; `missing` names every member whose part is not in `replies`. */
export async function gatherMeshWide<T>(mesh: Mesh, method: string, payload: Record<string, JsonValue>, deadlineMs: number): Promise<MeshWideResult<T>> {
  const asked = new Set([mesh.key, ...mesh.members().map((m) => m.key)].map((k) => k.slice(0, PREFIX)));
  const { replies, missing } = await mesh.gather<unknown>(method, { ...payload, [ASKED]: [...asked] }, { deadlineMs, includeSelf: false });
  const result: MeshWideResult<T> = { replies: [], missing: missing.map((m) => ({ key: m.key, name: m.name, reason: m.message })) };
  const unreached = new Map<string, { key: string; name: string; reason: string }>();
  for (const r of replies) {
    if (!isEnvelope(r.value)) {
      result.replies.push(r as { key: string; name: string; value: T });
      continue;
    }
    result.replies.push({ key: r.key, name: r.name, value: r.value.value as T });
    for (const o of r.value.others) {
      if (typeof o?.key !== 'string' || asked.has(o.key.slice(0, PREFIX))) continue;
      unreached.set(o.key, { key: o.key, name: String(o.name), reason: `no connection from this node (${r.name} has one)` });
    }
  }
  result.missing.push(...unreached.values());
  return result;
}

/** The `X-Discovery-Partial` value: the missing members' names. */
export function partialHeader(missing: ReadonlyArray<{ name: string }>): string {
  return missing.map((m) => m.name).join(', ');
}
