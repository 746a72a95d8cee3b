import { stat } from 'node:fs/promises';

/** Who the process is: its user id and every group it has (primary and supplementary). */
export interface ProcessIdentity {
  uid: number;
  groups: readonly number[];
}

function currentIdentity(): ProcessIdentity | undefined {
  if (typeof process.getuid !== 'function') return undefined; // Windows: no POSIX owners
  return {
    uid: process.getuid(),
    groups: [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])],
  };
}

/**
 * A warning when a secret file is open to more than the process needs, else undefined. The mode
 * and owner are the target's (a Kubernetes Secret mount is a chain of symlinks to `..data/`):
 * - others may read or write it;
 * - its group may write it, or read it when the process does not read it through that group
 *   (Kubernetes with fsGroup: owner root, group the fsGroup, mode 0440, is what it needs);
 * - it belongs to a user other than the process's or root's, who can change or swap the key.
 */
export async function looseKeyFilePermissions(
  path: string,
  identity: ProcessIdentity | undefined = currentIdentity(),
): Promise<string | undefined> {
  const { mode, uid, gid } = await stat(path);
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  const readsThroughGroup =
    identity !== undefined && uid !== identity.uid && identity.groups.includes(gid);
  const open =
    (mode & 0o007) !== 0 || (mode & 0o020) !== 0 || ((mode & 0o040) !== 0 && !readsThroughGroup);
  if (open) {
    const what = (mode & 0o022) !== 0 ? 'writable' : 'readable';
    return `${path} is ${what} by group or others (mode ${octal}); restrict it, e.g. chmod 600 (Kubernetes: defaultMode: 0400 and the pod's fsGroup)`;
  }
  if (identity !== undefined && uid !== identity.uid && uid !== 0)
    return `${path} belongs to uid ${uid}, not to this process (uid ${identity.uid}) or root: that user can replace it; chown it`;
  return undefined;
}
