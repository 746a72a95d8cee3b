import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The mode of what the CLI writes that holds nothing secret (a chain, a CSR, a checkpoint, a proof). */
export const PUBLIC_FILE_MODE = 0o644;

/**
 * Writes `data` to `path` atomically with `mode`: into a new file beside it (created exclusively,
 * so never through a link), flushed, then renamed over `path`. A reader sees the old file or the
 * whole new one, never a truncated one; a symlink at `path` is replaced, not followed, so the file
 * it points to is neither overwritten nor re-moded; and the mode is the new file's own, whatever
 * an existing file had.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temporary, 'wx', mode);
  try {
    try {
      await file.writeFile(data);
      // The process umask may have cleared bits of `mode` on creation; set it exactly.
      await file.chmod(mode);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
