import { chmodSync, chownSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { looseKeyFilePermissions } from '../../../src/signers/file/key-file-permissions.js';
import { tempDir } from '../../helpers/openssl.js';

const work = tempDir();
afterAll(() => work.cleanup());

let count = 0;
function secretFile(mode: number): { path: string; uid: number; gid: number } {
  const path = work.write(`secret-${count++}`, 'x');
  chmodSync(path, mode);
  const { uid, gid } = statSync(path);
  return { path, uid, gid };
}

/** A Kubernetes Secret volume: tsa.key -> ..data/tsa.key, ..data -> ..2026_01_01_x/. */
function secretVolume(mode: number): { path: string; uid: number; gid: number } {
  const dir = work.path(`volume-${count++}`);
  mkdirSync(`${dir}/..2026_01_01_x`, { recursive: true });
  const file = `${dir}/..2026_01_01_x/tsa.key`;
  work.write(file.slice(work.dir.length + 1), 'x');
  chmodSync(file, mode);
  symlinkSync('..2026_01_01_x', `${dir}/..data`);
  symlinkSync('..data/tsa.key', `${dir}/tsa.key`);
  const { uid, gid } = statSync(file);
  return { path: `${dir}/tsa.key`, uid, gid };
}

describe('key file permissions', () => {
  it('accepts a Kubernetes Secret mount with fsGroup: symlinks, mode 0440, read through the group', async () => {
    const { path, uid, gid } = secretVolume(0o440);
    // The process runs as another user (runAsUser) with the fsGroup among its groups.
    const identity = { uid: uid + 1000, groups: [uid + 1000, gid] };
    await expect(looseKeyFilePermissions(path, identity)).resolves.toBeUndefined();
  });

  it('checks the symlink target, not the link (whose own mode is 0777)', async () => {
    const { path, uid } = secretVolume(0o444);
    const identity = { uid, groups: [] };
    expect(await looseKeyFilePermissions(path, identity)).toContain('(mode 0444)');
  });

  it('warns on group read when the process owns the file and needs no group access', async () => {
    const { path, uid, gid } = secretFile(0o440);
    const identity = { uid, groups: [gid] };
    expect(await looseKeyFilePermissions(path, identity)).toContain(
      `${path} is readable by group or others (mode 0440)`,
    );
  });

  it("warns on group read when the file's group is not the process's", async () => {
    const { path, uid, gid } = secretFile(0o640);
    const identity = { uid: uid + 1000, groups: [gid + 1000] };
    expect(await looseKeyFilePermissions(path, identity)).toContain('readable by group or others');
  });

  it('warns on a group-writable file even when the process reads it through the group', async () => {
    const { path, uid, gid } = secretFile(0o460);
    const identity = { uid: uid + 1000, groups: [gid] };
    expect(await looseKeyFilePermissions(path, identity)).toContain(
      `${path} is writable by group or others (mode 0460)`,
    );
  });

  it('warns on a 0600 file owned by another user than the process or root', async () => {
    const file = secretFile(0o600);
    // As root, give the file to an ordinary user; otherwise it already belongs to one.
    if (file.uid === 0) chownSync(file.path, 4242, file.gid);
    const owner = statSync(file.path).uid;
    const identity = { uid: owner + 1, groups: [] };
    expect(await looseKeyFilePermissions(file.path, identity)).toContain(
      `belongs to uid ${owner}, not to this process (uid ${owner + 1}) or root`,
    );
  });
});
