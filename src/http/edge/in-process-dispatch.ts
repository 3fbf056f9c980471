/**
 * Requests members forward, dispatched into this node's HTTP app in-process: an HTTP server that
 * never listens is handed one end of an in-memory stream pair per request, and Node's own HTTP
 * client writes the request on the other end. Express gets real IncomingMessage and
 * ServerResponse objects; nothing reaches a socket, a port or a file. What the mesh verified is
 * attached to the request object (forwarded-request.ts), found by a one-time id that only this
 * server reads, so no header sent to the public listener can claim it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request, type RequestListener, type Server } from 'node:http';
import { Duplex } from 'node:stream';
import type { ForwardedResponse, HttpHeaders } from '../../mesh/http-forwarding.js';
import { type ForwardedMark, markForwarded } from '../forwarded-request.js';

const DISPATCH_HEADER = 'x-discovery-dispatch';

/** Two connected in-memory streams: what one writes, the other reads. */
function streamPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  for (let i = 0; i < 2; i++) {
    ends.push(
      new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, done) {
          ends[1 - i]!.push(chunk);
          done();
        },
        final(done) {
          ends[1 - i]!.push(null);
          done();
        },
        destroy(err, done) {
          ends[1 - i]!.push(null);
          done(err);
        },
      }),
    );
  }
  return [ends[0]!, ends[1]!];
}

export interface DispatchedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: HttpHeaders;
  body: Buffer;
}

export class InProcessDispatch {
  private readonly server: Server;
  private readonly marks = new Map<string, ForwardedMark>();

  constructor(app: RequestListener) {
    this.server = createServer((req, res) => {
      const id = req.headers[DISPATCH_HEADER];
      delete req.headers[DISPATCH_HEADER];
      const mark = typeof id === 'string' ? this.marks.get(id) : undefined;
      if (typeof id === 'string') this.marks.delete(id);
      if (mark) markForwarded(req, mark);
      app(req, res);
    });
  }

  /** The app's answer to the request, served as coming from a member with `mark`. */
  dispatch(req: DispatchedRequest, mark: ForwardedMark): Promise<ForwardedResponse> {
    const id = randomUUID();
    this.marks.set(id, mark);
    const [client, server] = streamPair();
    this.server.emit('connection', server);
    return new Promise<ForwardedResponse>((resolve, reject) => {
      const headers = { ...req.headers, [DISPATCH_HEADER]: id, 'content-length': String(req.body.length), connection: 'close' };
      const out = request({ method: req.method, path: req.path, headers, createConnection: () => client as never }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers as HttpHeaders, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(req.body);
    }).finally(() => {
      this.marks.delete(id);
      client.destroy();
    });
  }
}
