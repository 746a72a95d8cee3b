import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Collects `source`'s bytes, stopping once they exceed `limit`: throws `tooLarge()` then, and the
 * loop's exit ends the source (a fetch body is cancelled, a file stream destroyed). For what a
 * peer or a path supplies and must not fill memory: an HTTP answer, a file named by a flag.
 */
export async function collectCapped(
  source: AsyncIterable<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The bytes of the regular file at `path`, up to `limit`. Opened without waiting (O_NONBLOCK): a
 * FIFO with no writer would hold a thread of libuv's pool, and with it the process's exit, for
 * ever; a FIFO, a device or a folder is refused (`notRegular()`), a file over `limit` too
 * (`tooLarge()`), read no further. The open's own errors (ENOENT...) are thrown as they are.
 */
export async function readRegularFileCapped(
  path: string,
  limit: number,
  refuse: { notRegular: () => Error; tooLarge: () => Error },
): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    if (!(await handle.stat()).isFile()) throw refuse.notRegular();
    return await collectCapped(
      handle.createReadStream({ autoClose: false }),
      limit,
      refuse.tooLarge,
    );
  } finally {
    await handle.close();
  }
}
