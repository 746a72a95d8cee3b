export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** The nearest-rank percentile of ascending `sorted` (NaN when empty). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1
  ] as number;
}

/**
 * Calls `operation` back to back for `seconds` from `concurrency` loops at once; returns operations
 * per second.
 */
export async function rate(
  seconds: number,
  operation: () => unknown,
  concurrency = 1,
): Promise<number> {
  return (await rates(seconds, operation, concurrency)).perSecond;
}

/**
 * As {@link rate}, also per second of this process's CPU time: on a machine shared with other jobs
 * the wall-clock rate follows the scheduler, the CPU-time rate much less.
 */
export async function rates(
  seconds: number,
  operation: () => unknown,
  concurrency = 1,
): Promise<{ perSecond: number; perCpuSecond: number }> {
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      // Batches keep the clock reads off the measured path.
      for (let i = 0; i < 50; i++) await operation();
      count += 50;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const cpu = process.cpuUsage(cpuStart);
  return {
    perSecond: count / ((performance.now() - start) / 1000),
    perCpuSecond: count / ((cpu.user + cpu.system) / 1e6),
  };
}

export const format = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function parseArgs(argv: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue;
    const equals = arg.indexOf('=');
    if (equals !== -1) args[arg.slice(2, equals)] = arg.slice(equals + 1);
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--'))
      args[arg.slice(2)] = argv[++i] as string;
    else args[arg.slice(2)] = 'true';
  }
  return args;
}
