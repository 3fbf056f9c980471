/** The tail of a serial console log file (virtlogd writes it; the guest's bytes, as text). */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const DEFAULT_CONSOLE_LINES = 100;
export const MAX_CONSOLE_LINES = 10_000;
const CHUNK_BYTES = 64 * 1024;
/** CR, and ESC sequences: CSI (`ESC [ … letter`) and two-byte ones (`ESC c`). */
const TERMINAL_CONTROL = /\r|\x1b\[[0-9;?]*[A-Za-z]|\x1b[A-Za-z]/g;

/**
 * The last `lines` lines of `file` (at most MAX_CONSOLE_LINES), read backwards by chunks so a long
 * log costs what the answer costs. Carriage returns (the guest writes CR LF) and terminal control
 * sequences (the firmware clears the screen) are dropped; an absent file (a domain never started)
 * is an empty log.
 */
export function tailLines(file: string, lines = DEFAULT_CONSOLE_LINES): string {
  const wanted = Math.min(Math.max(1, Math.floor(lines)), MAX_CONSOLE_LINES);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    let end = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let newlines = 0;
    // One newline more than wanted: the line before the first kept one must be complete.
    while (end > 0 && newlines <= wanted) {
      const start = Math.max(0, end - CHUNK_BYTES);
      const chunk = Buffer.alloc(end - start);
      readSync(fd, chunk, 0, chunk.length, start);
      chunks.unshift(chunk);
      for (const byte of chunk) if (byte === 0x0a) newlines += 1;
      end = start;
    }
    const text = Buffer.concat(chunks).toString('utf8').replace(TERMINAL_CONTROL, '');
    const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    const kept = all.slice(-wanted);
    return kept.length === 0 || (kept.length === 1 && kept[0] === '') ? '' : `${kept.join('\n')}\n`;
  } finally {
    closeSync(fd);
  }
}
