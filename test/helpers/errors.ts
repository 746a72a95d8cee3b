/** Everything an error would show: its message, stack and causes, and their fields. */
export function shownError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    parts.push(String(current), (current as Error).stack ?? '', JSON.stringify(current));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/** The error `run` rejects with; a test failure if it resolves. */
export async function failureOf(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('it did not fail');
}
