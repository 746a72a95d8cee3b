import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { afterAll, afterEach, expect } from 'vitest';
import type { AuditFile } from '../../src/server/audit-log-file.js';
import { watchUnhandledRejections } from './fault-tsa.js';
import { tempDir } from './openssl.js';

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

/**
 * An audit-log test file's scaffold, registered at its top: `newPath()` names a fresh log file
 * (`<prefix>-N.jsonl`) in a temporary folder removed after the file's tests; `cleanups` run after
 * each test, last first; and each test fails if a promise was rejected with nobody listening.
 */
export function auditLogTestFiles(prefix: string): {
  newPath: () => string;
  cleanups: (() => unknown)[];
} {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const unhandled = watchUnhandledRejections();
  afterEach(() => expect(unhandled).toEqual([]));
  let files = 0;
  return { newPath: () => dir.path(`${prefix}-${files++}.jsonl`), cleanups };
}

/** The records of the audit log at `path`, parsed. */
export const auditRecords = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
