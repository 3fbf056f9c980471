/** One OCCI JSON request of a bench, bounded in time; the body parsed when it is JSON. */
const J = 'application/occi+json';

export async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url, {
    method,
    headers: { Accept: J, ...(body === undefined ? {} : { 'Content-Type': J }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}
