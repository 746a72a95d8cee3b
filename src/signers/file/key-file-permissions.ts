import { stat } from 'node:fs/promises';

/** A warning when a secret file can be read by its group or by others, else undefined. */
export async function looseKeyFilePermissions(path: string): Promise<string | undefined> {
  const { mode } = await stat(path);
  if ((mode & 0o077) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${path} is readable by group or others (mode ${octal}); restrict it, e.g. chmod 600 (Kubernetes: defaultMode: 0400)`;
}
