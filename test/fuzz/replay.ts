import fc from 'fast-check';

/** What replaying one case found. */
export interface ReplayResult {
  /** Whether the replayed case failed (the finding still stands). */
  failed: boolean;
  /** fast-check's report of the failure (the input and the error), when it failed. */
  report: string | undefined;
}

/** A --seed and --path that name no case of the target: fast-check cannot walk the path. */
export class ReplayPathError extends Error {
  override name = 'ReplayPathError';
}

/**
 * Runs the one case that `seed` and `path` (fast-check's replay path of a finding) name. fast-check
 * may run a neighbouring case after a passing one: only the first execution, the replayed case,
 * counts.
 */
export async function replayCase(
  property: fc.IRawProperty<never>,
  options: { seed: number; path: string; hangMs: number },
): Promise<ReplayResult> {
  let details;
  try {
    details = await fc.check(property, {
      numRuns: 1,
      seed: options.seed,
      path: options.path,
      timeout: options.hangMs,
      endOnFailure: true,
      verbose: fc.VerbosityLevel.VeryVerbose,
    });
  } catch (error) {
    // fast-check: "Unable to replay, got wrong path=…".
    throw new ReplayPathError((error as Error).message, { cause: error });
  }
  const failed = details.executionSummary[0]?.status === fc.ExecutionStatus.Failure;
  return { failed, report: failed ? (fc.defaultReportMessage(details) ?? undefined) : undefined };
}
