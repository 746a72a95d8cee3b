/** Where command output goes; injectable so tests and the process share one path. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** An error whose message is the whole user-facing text (no stack). */
export class CliError extends Error {
  override name = 'CliError';
}

/** Go's time.Time.String() in UTC: "2025-01-02 03:04:05 +0000 UTC". */
export function goTimeString(date: Date): string {
  const [day, time] = date.toISOString().replace('Z', '').split('T') as [string, string];
  return `${day} ${time.replace(/\.?0+$/, '')} +0000 UTC`;
}
