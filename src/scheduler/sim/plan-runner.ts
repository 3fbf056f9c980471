/** Runs plan actions with the parallelism their nodes allow: an action waits for earlier ones on its nodes. */
export interface PlanStep {
  readonly nodes: readonly number[];
  /** Starts the action and calls `done` once it completes (or fails). */
  run(done: (ok: boolean) => void): void;
}

export function runPlan(steps: readonly PlanStep[], finished: (ok: boolean) => void): void {
  const last = new Map<number, number>();
  const deps = steps.map((s, i) => {
    const d: number[] = [];
    for (const n of s.nodes) {
      const j = last.get(n);
      if (j !== undefined) d.push(j);
      last.set(n, i);
    }
    return d;
  });
  const state: ('idle' | 'running' | 'done')[] = steps.map(() => 'idle');
  let remaining = steps.length;
  let ok = true;
  if (remaining === 0) {
    finished(true);
    return;
  }
  const launch = (): void => {
    steps.forEach((s, i) => {
      if (state[i] !== 'idle' || !(deps[i] ?? []).every((j) => state[j] === 'done')) return;
      state[i] = 'running';
      s.run((success) => {
        state[i] = 'done';
        ok &&= success;
        remaining--;
        if (remaining === 0) finished(ok);
        else launch();
      });
    });
  };
  launch();
}
