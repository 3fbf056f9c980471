/**
 * A 0-1 linear program as the exact solver builds it (binary columns, linear rows, a cost to
 * minimise), written in the LP format and solved by HiGHS (the `highs` package, WebAssembly) under
 * a time limit.
 */
import highsExport from 'highs';

// The package's types describe its CommonJS build (the loader under `default`); its ES build exports the loader itself.
const loadHighs = (typeof highsExport === 'function' ? highsExport : highsExport.default) as typeof highsExport.default;
/** HiGHS is WebAssembly: instantiated once, when the scheduler is first imported; calls are synchronous after that. */
const highs = await loadHighs();
// The first solves compile the WebAssembly code: done here, not inside a solve's time limit.
for (let i = 0; i < 3; i++) highs.solve('Minimize\n c: x + y\nSubject To\n r: x + y >= 1\nBinary\n x y\nEnd\n', { output_flag: false });

export type RowSense = '<=' | '>=' | '=';

/** A linear expression: coefficient per column name, plus a constant. */
export class LinearExpr {
  readonly terms = new Map<string, number>();
  constant = 0;

  add(column: string | null, coefficient: number): this {
    if (column === null || coefficient === 0) return this;
    this.terms.set(column, (this.terms.get(column) ?? 0) + coefficient);
    return this;
  }
}

export type MilpStatus = 'optimal' | 'feasible' | 'infeasible' | 'timeout';

export interface MilpResult {
  readonly status: MilpStatus;
  /** Value of every column when a solution was found (optimal, or the best one within the time limit). */
  readonly values: ReadonlyMap<string, number> | null;
}

export class BinaryProgram {
  private readonly columns: string[] = [];
  private readonly rows: string[] = [];
  private readonly objective = new LinearExpr();
  /** A row whose columns are all fixed and whose constant breaks it: no solution exists. */
  private contradiction = false;

  /** A new binary column (names must be unique; letters, digits and underscores). */
  binary(name: string): string {
    this.columns.push(name);
    return name;
  }

  get size(): { columns: number; rows: number } {
    return { columns: this.columns.length, rows: this.rows.length };
  }

  minimise(column: string, cost: number): void {
    this.objective.add(column, cost);
  }

  row(expr: LinearExpr, sense: RowSense, rhs: number): void {
    const bound = rhs - expr.constant;
    const terms = [...expr.terms].filter(([, c]) => c !== 0);
    if (terms.length === 0) {
      const ok = sense === '<=' ? 0 <= bound + 1e-9 : sense === '>=' ? 0 >= bound - 1e-9 : Math.abs(bound) <= 1e-9;
      if (!ok) this.contradiction = true;
      return;
    }
    this.rows.push(`r${this.rows.length}: ${formatTerms(terms)} ${sense} ${bound}`);
  }

  /** Solves within `timeLimitMs` of HiGHS's own clock. */
  solve(timeLimitMs: number): MilpResult {
    if (this.contradiction) return { status: 'infeasible', values: null };
    if (this.columns.length === 0) return { status: 'optimal', values: new Map() };
    const objective = this.objective.terms.size > 0 ? formatTerms([...this.objective.terms]) : `0 ${this.columns[0]}`;
    const lp = [
      'Minimize',
      ` cost: ${objective}`,
      'Subject To',
      ...(this.rows.length > 0 ? this.rows.map((r) => ` ${r}`) : [` r0: ${this.columns[0]} >= 0`]),
      'Binary',
      ` ${this.columns.join(' ')}`,
      'End',
      '',
    ].join('\n');
    const solution = highs.solve(lp, { output_flag: false, time_limit: Math.max(0.001, timeLimitMs / 1000), mip_rel_gap: 0 });
    const values = (): Map<string, number> => new Map(Object.entries(solution.Columns).map(([k, c]) => [k, Math.round((c as { Primal?: number }).Primal ?? 0)]));
    switch (solution.Status) {
      case 'Optimal':
        return { status: 'optimal', values: values() };
      case 'Infeasible':
        return { status: 'infeasible', values: null };
      case 'Time limit reached':
        // HiGHS reports the incumbent, if any, with a finite objective.
        return Number.isFinite(solution.ObjectiveValue) && Object.keys(solution.Columns).length > 0
          ? { status: 'feasible', values: values() }
          : { status: 'timeout', values: null };
      default:
        return { status: 'timeout', values: null };
    }
  }
}

function formatTerms(terms: readonly (readonly [string, number])[]): string {
  return terms.map(([col, c], i) => `${c < 0 ? '-' : i === 0 ? '' : '+'} ${Math.abs(c)} ${col}`).join(' ');
}
