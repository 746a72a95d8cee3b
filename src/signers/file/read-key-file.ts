import { open, type FileHandle } from 'node:fs/promises';
import { SignerError } from '../signer-error.js';

/** Far above any PEM key (an RSA-16384 key is 13 KiB) or Tink keyset; bounds what a wrong path costs. */
export const MAX_KEY_FILE_BYTES = 1 << 20;

/**
 * The bytes of a key file, refusing one longer than `maxBytes` without reading further (a path
 * that names a log, an image or /dev/zero must not fill the heap).
 */
export async function readKeyFile(path: string, maxBytes = MAX_KEY_FILE_BYTES): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    const length = await readInto(handle, buffer);
    if (length > maxBytes) {
      buffer.fill(0);
      throw new SignerError('KEY_UNREADABLE', `larger than ${maxBytes} bytes, not a key file`);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Reads `handle` into `buffer` until the buffer is full or the file ends; returns the bytes read.
 * A buffer one byte longer than the most a caller takes tells a longer file without reading on.
 */
export async function readInto(handle: FileHandle, buffer: Buffer): Promise<number> {
  let length = 0;
  while (length < buffer.length) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return length;
}
