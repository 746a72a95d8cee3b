import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
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
 * (`tooLarge()`), read no further. Read into one buffer, zeroed when refused, so that a secret file
 * (a key, a PIN) leaves no copies behind. The open's own errors (ENOENT...) are thrown as they are.
 */
export async function readRegularFileCapped(
  path: string,
  limit: number,
  refuse: { notRegular: () => Error; tooLarge: () => Error },
): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    if (!(await handle.stat()).isFile()) throw refuse.notRegular();
    // One byte more than `limit` tells a longer file without reading on.
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) {
      buffer.fill(0);
      throw refuse.tooLarge();
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * {@link readRegularFileCapped} for a caller that cannot wait (the config file, read before the
 * server starts): opened without waiting, refused unless a regular file of at most `limit` bytes
 * by its size, then read whole. A FIFO read blocked the event loop, and with it the SIGTERM
 * handler, for ever.
 */
export function readRegularFileCappedSync(
  path: string,
  limit: number,
  refuse: { notRegular: () => Error; tooLarge: () => Error },
): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse.notRegular();
    if (stats.size > limit) throw refuse.tooLarge();
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
