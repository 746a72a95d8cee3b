import { readRegularFileCapped } from '../../capped-read.js';
import { SignerError } from '../signer-error.js';

/** Far above any PEM key (an RSA-16384 key is 13 KiB) or Tink keyset; bounds what a wrong path costs. */
export const MAX_KEY_FILE_BYTES = 1 << 20;

/**
 * The bytes of a key file, refusing one longer than `maxBytes` without reading further (a path
 * that names a log, an image or /dev/zero must not fill the heap), and a FIFO or a device, which
 * would hold the start-up (and its exit) until a writer comes.
 */
export async function readKeyFile(path: string, maxBytes = MAX_KEY_FILE_BYTES): Promise<Buffer> {
  return readRegularFileCapped(path, maxBytes, {
    notRegular: () =>
      new SignerError('KEY_UNREADABLE', 'not a regular file (a FIFO, a device or a folder)'),
    tooLarge: () =>
      new SignerError('KEY_UNREADABLE', `larger than ${maxBytes} bytes, not a key file`),
  });
}
