import { CodedError } from '../errors.js';

/** A process that cannot start or keep its workers: the signer's self-test, the cluster. */
export type RuntimeErrorCode =
  | 'SELF_TEST_FAILED'
  | 'STACK_DISPOSED'
  | 'WORKER_EXITED_EARLY'
  | 'WORKER_DRAIN_FAILED'
  | 'NO_WORKER_SERVING'
  | 'START_STOPPED'
  | 'WORKER_METRICS_FAILED'
  | 'FILE_CHANGED';

export class RuntimeError extends CodedError<RuntimeErrorCode> {
  override name = 'RuntimeError';
}

/** Why a start-up stopped at a SIGTERM or SIGINT: the abort's reason, and the cluster's refusal. */
export const startStoppedBySignal = (): RuntimeError =>
  new RuntimeError('START_STOPPED', 'the start-up was stopped by a signal');
