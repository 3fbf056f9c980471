/**
 * Progress of long commands (`npm run cluster`, `npm run bench:*`) on a terminal: cli-progress
 * bars on stderr, the command's own lines printed above them. Without a terminal on both stdout
 * and stderr (a pipe, a file, CI) there are no bars: lines go to stderr as they always did, and
 * stdout keeps only the results.
 *
 * @example
 *   const progress = terminalProgress('bench:http');
 *   const runs = progress.bar('runs', 6);
 *   runs.advance('bare express, round 1');
 *   progress.log('bare express: 8123 req/s');
 *   progress.stop();
 */
import { MultiBar, Presets } from 'cli-progress';

export interface ProgressBar {
  /** One more step done; `step` names the one under way now. */
  advance(step?: string): void;
  /** `value` steps done (of a new total when given). */
  set(value: number, step?: string, total?: number): void;
}

export interface Progress {
  /** Whether bars are drawn (stdout and stderr are terminals). */
  readonly drawn: boolean;
  bar(name: string, total: number): ProgressBar;
  /** A line for the user: above the bars, or on stderr without them. */
  log(line: string): void;
  stop(): void;
}

const SILENT_BAR: ProgressBar = { advance: () => undefined, set: () => undefined };

export function terminalProgress(prefix: string): Progress {
  if (!process.stdout.isTTY || !process.stderr.isTTY) {
    return { drawn: false, bar: () => SILENT_BAR, log: (line) => void process.stderr.write(`${prefix}: ${line}\n`), stop: () => undefined };
  }
  const bars = new MultiBar({ format: `${prefix} {name} [{bar}] {value}/{total} {step}`, hideCursor: true, clearOnComplete: false, stream: process.stderr }, Presets.shades_classic);
  let stopped = false;
  return {
    drawn: true,
    bar(name, total) {
      const bar = bars.create(total, 0, { name, step: '' });
      return {
        advance: (step) => bar.increment(1, { step: step ?? '' }),
        set: (value, step, newTotal) => {
          if (newTotal !== undefined) bar.setTotal(newTotal);
          bar.update(value, { step: step ?? '' });
        },
      };
    },
    log: (line) => (stopped ? void process.stderr.write(`${prefix}: ${line}\n`) : bars.log(`${prefix}: ${line}\n`)),
    stop: () => {
      if (stopped) return;
      stopped = true;
      bars.stop();
    },
  };
}
