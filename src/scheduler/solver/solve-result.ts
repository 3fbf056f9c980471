/** What a solver run returns: its status, the plan and target when solved, and the measures of the search. */
import type { Plan } from '../plan.js';

export type SolveStatus = 'solved' | 'unsolvable' | 'budget';

export interface SolveResult {
  readonly status: SolveStatus;
  readonly plan: Plan | null;
  /** Target host of every VM (running or started) when solved. */
  readonly target: Map<string, string> | null;
  readonly cost: number;
  readonly lowerBound: number;
  readonly migrations: number;
  readonly attempts: number;
  readonly work: number;
  readonly solveMs: number;
  /** True when a budget stopped the search before the bound or patience did. */
  readonly budgetExhausted: boolean;
}
