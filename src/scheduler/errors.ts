/** The scheduler layer's one error class: every failure carries a machine-readable `code`. */
export type SchedulerErrorCode =
  | 'INVALID_MODEL'
  | 'INVALID_CONSTRAINT'
  | 'INVALID_OPTION'
  | 'PLAN_VIOLATION'
  | 'NO_SOLUTION'
  | 'ACTUATOR_FAILED'
  | 'TIMEOUT'
  | 'CLOSED';

export class SchedulerError extends Error {
  readonly code: SchedulerErrorCode;
  override readonly cause?: unknown;

  constructor(code: SchedulerErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = 'SchedulerError';
    this.code = code;
    this.cause = cause;
  }

  static INVALID_MODEL(message: string): SchedulerError {
    return new SchedulerError('INVALID_MODEL', message);
  }
  static INVALID_CONSTRAINT(message: string): SchedulerError {
    return new SchedulerError('INVALID_CONSTRAINT', message);
  }
  static INVALID_OPTION(message: string): SchedulerError {
    return new SchedulerError('INVALID_OPTION', message);
  }
  static PLAN_VIOLATION(message: string, cause?: unknown): SchedulerError {
    return new SchedulerError('PLAN_VIOLATION', message, cause);
  }
  static NO_SOLUTION(message: string): SchedulerError {
    return new SchedulerError('NO_SOLUTION', message);
  }
  static ACTUATOR_FAILED(message: string, cause?: unknown): SchedulerError {
    return new SchedulerError('ACTUATOR_FAILED', message, cause);
  }
  static TIMEOUT(message: string): SchedulerError {
    return new SchedulerError('TIMEOUT', message);
  }
  static CLOSED(message = 'closed'): SchedulerError {
    return new SchedulerError('CLOSED', message);
  }
}
