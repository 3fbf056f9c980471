/** Public API of the scheduler layer (DVMS, solver, constraints, simulator). */
export * from './constraints/index.js';
export { SchedulerError, type SchedulerErrorCode } from './errors.js';
export * from './model.js';
export * from './plan.js';
export { assertPlan, checkPlan, replay, type PlanViolation } from './plan-checker.js';
export { seededRandom, type RandomSource } from './random.js';
export { solve, type SolveOptions, type SolveResult } from './solver/solve.js';
export { ENCODINGS } from './solver/encodings.js';
export { buildPlan } from './solver/planner.js';
export type { DvmsEvent, DvmsMessage, PartitionInfo, WireAction } from './protocol/messages.js';
export { NodeAgent, type AgentObserver, type NodeAgentOptions } from './protocol/node-agent.js';
export { RingOrder, VivaldiOrder, type NeighbourOrder } from './protocol/neighbours.js';
export {
  realEnvironment,
  type AgentEnvironment,
  type HostActuator,
  type HostMonitor,
  type NodeSnapshot,
  type SchedulerTransport,
} from './protocol/transport.js';
export { SCHEDULERS, SIM_DEFAULTS, simulate, type SchedulerName, type SimMetrics, type SimOptions } from './sim/simulate.js';
