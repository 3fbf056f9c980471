/**
 * The audit log of a node: one JSON line per mutating request (POST, PUT, PATCH, DELETE), served
 * or refused, in `<dataDir>/audit.log`:
 *   {"time":"…","tenant":"acme","tokenId":"…","node":"edge-fr","method":"POST","path":"/compute/",
 *    "status":201,"location":"/compute/…","ms":4.2}
 * plus `forwardedFrom` (the member that forwarded the request here: believed only on the loopback
 * re-entry listener with the mesh edge's per-process token) or `forwardedTo` (the member
 * that served a request this node forwarded), and `aborted` when the client was gone before the
 * answer. A forwarded request is thus audited twice: where it entered and where it was served.
 * Neither tokens nor bodies are logged; the path keeps its query (`?action=stop`).
 *
 * Durability: the answer to a mutation leaves only once its line is on disk (write, then
 * fdatasync). Lines are group-committed without any added delay: while one write+fdatasync is
 * under way, the lines of the requests answered meanwhile queue up and go out together in the
 * next one, so a line waits at most for one fdatasync in flight plus its own, and concurrent
 * requests share a flush. A crash therefore loses no line of an acknowledged mutation (it may
 * keep the line of a mutation whose answer never left).
 *
 * @example
 *   const audit = await AuditLog.open(join(dataDir, 'audit.log'));
 *   app.use(auditTrail({ log: audit, node: 'edge-fr', logger }));   // before anything answers
 *   // on shutdown, after the HTTP server closed:
 *   await audit.close();
 */
import { open, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { SERVED_BY_HEADER } from './edge/headers.js';
import { forwardedMark } from './forwarded-request.js';

export const AUDIT_FILE = 'audit.log';
export const AUDITED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Longest path (with query) written to a line. */
const MAX_PATH = 1024;

export interface AuditEntry {
  /** ISO 8601, when the answer was ready. */
  time: string;
  tenant: string | null;
  tokenId: string | null;
  /** Name of the node writing the line. */
  node: string;
  method: string;
  path: string;
  /** HTTP status of the answer: the outcome. */
  status: number;
  /** Location of the entity a 201 created. */
  location?: string;
  forwardedFrom?: string;
  forwardedTo?: string;
  /** The client closed the connection before the answer. */
  aborted?: true;
  /** Time from the request's arrival to its answer, ms. */
  ms: number;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** An append-only, fdatasync'ed, group-committed JSON-lines file; see the module comment. */
export class AuditLog {
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Lines written and synced so far (by this process). */
  written = 0;
  /** fdatasync calls so far: fewer than lines when requests shared a flush. */
  syncs = 0;

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(file: string): Promise<AuditLog> {
    // 'a': O_APPEND, every write lands at the end, whatever else appends; 0600: tenants and paths.
    return new AuditLog(file, await open(file, 'a', 0o600));
  }

  /** Resolves once the line is on disk. */
  append(entry: AuditEntry): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the audit log is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(entry)}\n`, resolve, reject });
      this.kick();
    });
  }

  /** Resolves when every line appended so far is on disk (or failed). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes what is queued, then closes the file; safe to call twice. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.flushed();
      await this.fh.close();
    })());
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      if (this.queue.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        const buf = Buffer.from(batch.map((p) => p.line).join(''));
        for (let off = 0; off < buf.length; ) off += (await this.fh.write(buf, off)).bytesWritten;
        await this.fh.datasync();
        this.written += batch.length;
        this.syncs++;
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }
}

export interface AuditTrailOptions {
  log: AuditLog;
  /** This node's name, written in every line and sent as X-Discovery-Served-By. */
  node: string;
  logger: Logger;
}

/**
 * Express middleware factory: names the serving node on every answer (`X-Discovery-Served-By`,
 * which tells an entry node where a request it forwarded was served), and holds the answer to
 * every mutating request until its audit line is durable. Place it before anything that answers.
 */
export function auditTrail(opts: AuditTrailOptions) {
  const { log, node, logger } = opts;
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader(SERVED_BY_HEADER, node);
    if (!AUDITED_METHODS.has(req.method)) return next();
    const started = performance.now();
    const forwardedFrom = forwardedMark(req)?.from;
    const end = res.end;
    let ended = false;
    res.end = function (this: Response, ...args: unknown[]) {
      // The first answer wins; anything answering later (a timeout racing the handler) is dropped.
      if (ended) return res;
      ended = true;
      res.locals['answered'] = true;
      // Until the line is durable the answer is held: keep what is held from being changed.
      const status = res.statusCode;
      res.setHeader = (() => res) as Response['setHeader'];
      const finish = () => {
        res.statusCode = status;
        (end as (...a: unknown[]) => Response).apply(res, args);
      };
      log.append(auditEntry(req, res, node, started, forwardedFrom)).then(finish, (err: unknown) => {
        logger.error({ err, method: req.method, path: req.path }, 'audit log write failed; the answer leaves unaudited');
        finish();
      });
      return res;
    } as Response['end'];
    next();
  };
}

function auditEntry(req: Request, res: Response, node: string, started: number, forwardedFrom: string | undefined): AuditEntry {
  const principal = res.locals['principal'] as { tenant?: string; tokenId?: string } | undefined;
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    tenant: principal?.tenant ?? null,
    tokenId: principal?.tokenId ?? null,
    node,
    method: req.method,
    path: req.originalUrl.length > MAX_PATH ? `${req.originalUrl.slice(0, MAX_PATH)}…` : req.originalUrl,
    status: res.statusCode,
    ms: Math.round((performance.now() - started) * 10) / 10,
  };
  const location = res.getHeader('Location');
  if (res.statusCode === 201 && typeof location === 'string') entry.location = location;
  if (forwardedFrom !== undefined) entry.forwardedFrom = forwardedFrom;
  const servedBy = res.getHeader(SERVED_BY_HEADER);
  if (typeof servedBy === 'string' && servedBy !== node) entry.forwardedTo = servedBy;
  if (req.socket.destroyed && !res.headersSent) entry.aborted = true;
  return entry;
}
