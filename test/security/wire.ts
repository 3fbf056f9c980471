/** One OCCI request body in each rendering the matrix covers (JSON, text/plain, text/occi). */
export type Rendering = 'application/json' | 'text/plain' | 'text/occi';
export const RENDERINGS: Rendering[] = ['application/json', 'text/plain', 'text/occi'];

export type Body =
  | { type: 'none' }
  | { type: 'entity'; kind?: string; mixins?: string[]; attributes?: Record<string, string | number> }
  | { type: 'action'; action: string }
  | { type: 'locations'; locations: string[] }
  | { type: 'mixin'; term: string; scheme: string; location?: string };

const split = (id: string) => ({ scheme: id.slice(0, id.indexOf('#') + 1), term: id.slice(id.indexOf('#') + 1) });
const category = (id: string, cls: string, extra = '') => `${split(id).term};scheme="${split(id).scheme}";class="${cls}"${extra}`;

function textLines(body: Body): Array<[string, string]> {
  switch (body.type) {
    case 'none':
      return [];
    case 'entity':
      return [
        ...(body.kind ? [['Category', category(body.kind, 'kind')] as [string, string]] : []),
        ...(body.mixins ?? []).map((m) => ['Category', category(m, 'mixin')] as [string, string]),
        ...Object.entries(body.attributes ?? {}).map(([k, v]) => ['X-OCCI-Attribute', typeof v === 'number' ? `${k}=${v}` : `${k}="${v}"`] as [string, string]),
      ];
    case 'action':
      return [['Category', category(body.action, 'action')]];
    case 'locations':
      return body.locations.map((l) => ['X-OCCI-Location', l]);
    case 'mixin':
      return [['Category', `${body.term};scheme="${body.scheme}";class="mixin"${body.location ? `;location="${body.location}"` : ''}`]];
  }
}

function json(body: Body): string {
  switch (body.type) {
    case 'none':
      return '';
    case 'entity':
      return JSON.stringify({ ...(body.kind ? { kind: body.kind } : {}), mixins: body.mixins ?? [], attributes: body.attributes ?? {} });
    case 'action':
      return JSON.stringify({ action: body.action });
    case 'locations':
      return JSON.stringify({ locations: body.locations });
    case 'mixin':
      return JSON.stringify({ mixins: [{ term: body.term, scheme: body.scheme, ...(body.location ? { location: body.location } : {}) }] });
  }
}

/** Headers and body of a request in a rendering (text/occi: the fields as headers, empty body). */
export function encode(rendering: Rendering, body: Body): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { Accept: rendering };
  if (body.type === 'none') return { headers, body: '' };
  headers['Content-Type'] = rendering;
  if (rendering === 'application/json') return { headers, body: json(body) };
  const lines = textLines(body);
  if (rendering === 'text/plain') return { headers, body: lines.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n' };
  for (const [k, v] of lines) headers[k] = headers[k] ? `${headers[k]}, ${v}` : v;
  return { headers, body: '' };
}
