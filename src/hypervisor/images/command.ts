/** Running the host tools images are made with (mke2fs, qemu-img, genisoimage, busybox). */
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  /** Written to the command's stdin. */
  input?: string;
  /** A file descriptor that takes the command's stdout (then not returned). */
  stdoutFd?: number;
}

/** Runs a command; resolves with its stdout, rejects with its stderr. */
export function run(command: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.stdoutFd ?? 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`${command}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${err.trim()}`))));
    child.stdin?.end(opts.input);
  });
}
