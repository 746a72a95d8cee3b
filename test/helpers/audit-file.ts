import { open } from 'node:fs/promises';
import type { AuditFile } from '../../src/server/audit-log.js';

/**
 * The audit log's file at `path`, opened as the server opens it (appending, mode 0640), with some
 * of its calls replaced by `overrides` (a held fdatasync, an injected fault); the others go to
 * the real file. `overrides` gets the real file to call through to.
 */
export async function openAuditFileWith(
  path: string,
  overrides: (real: AuditFile) => Partial<AuditFile>,
): Promise<AuditFile> {
  const handle = await open(path, 'a+', 0o640);
  // FileHandle's methods need their `this`: bound, not spread.
  const real: AuditFile = {
    appendFile: (data) => handle.appendFile(data),
    datasync: () => handle.datasync(),
    truncate: (length) => handle.truncate(length),
    stat: () => handle.stat(),
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    close: () => handle.close(),
  };
  return { ...real, ...overrides(real) };
}
