import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { acquireAuditLock } from '../../../src/server/audit-lock.js';
import { tempDir } from '../../helpers/openssl.js';
import { childEnvironment } from '../../helpers/process.js';
import { REPO_ROOT, TSX_LOADER } from '../../helpers/spawn-server.js';

/** A lock file that cannot be made whole is named in the error, and never left behind. */

it('names the lock file it cannot create', async () => {
  const dir = tempDir();
  try {
    // A file where a folder should be: ENOTDIR, whoever runs the test (root included).
    writeFileSync(dir.path('not-a-folder'), '');
    const path = join(dir.path('not-a-folder'), 'audit.jsonl');
    await expect(acquireAuditLock(path, { waitMs: 0 })).rejects.toMatchObject({
      code: 'AUDIT_LOG_LOCK_FAILED',
      message: expect.stringMatching(
        new RegExp(`^cannot create the audit log lock ${path}\\.lock: ENOTDIR`),
      ) as unknown,
    });
  } finally {
    dir.cleanup();
  }
});

it('removes a lock file it could not write (a full disk), where an empty one held every writer off', async () => {
  const dir = tempDir();
  try {
    const path = dir.path('audit.jsonl');
    // A real write failure: a file size limit of 0 (EFBIG once SIGXFSZ is ignored), in a child.
    const script = `
      process.on('SIGXFSZ', () => {});
      const { acquireAuditLock } = await import(${JSON.stringify(join(REPO_ROOT, 'src/server/audit-lock.ts'))});
      await acquireAuditLock(${JSON.stringify(path)}, { waitMs: 0 }).then(
        () => console.log('taken'),
        (error) => console.log(error.code, error.cause?.code),
      );`;
    const { stdout } = await promisify(execFile)(
      'bash',
      [
        '-c',
        'ulimit -f 0 && exec "$0" --import "$1" --input-type=module -e "$2"',
        process.execPath,
        TSX_LOADER,
        script,
      ],
      { env: childEnvironment() },
    );
    expect(stdout.trim()).toBe('AUDIT_LOG_LOCK_FAILED EFBIG');
    expect(existsSync(`${path}.lock`)).toBe(false);
  } finally {
    dir.cleanup();
  }
});
