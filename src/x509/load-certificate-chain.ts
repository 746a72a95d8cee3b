import { readRegularFileCapped } from '../capped-read.js';
import { holdsKeyMaterial, shownPath } from '../shown-path.js';
import { decodeCertificateChainPem } from './pem.js';
import { X509Error } from './x509-error.js';

/** Far above any certificate chain (a few KiB a certificate); bounds what a wrong path costs. */
const MAX_CHAIN_FILE_BYTES = 4 << 20;

/** The DER certificates of a PEM chain file, in file order (leaf first, root last). */
export async function loadCertificateChain(path: string): Promise<Buffer[]> {
  if (path === '')
    throw new X509Error(
      'CHAIN_PATH_MISSING',
      '--certificate-chain-path is required with this signer',
    );
  // A cause's message quotes the path: none where the path is not shown.
  const unreadable = (why: string, options?: ErrorOptions) =>
    new X509Error(
      'CHAIN_UNREADABLE',
      `reading certificate chain ${shownPath(path)}: ${why}`,
      holdsKeyMaterial(path) ? undefined : options,
    );
  let text: string;
  try {
    text = (
      await readRegularFileCapped(path, MAX_CHAIN_FILE_BYTES, {
        notRegular: () => unreadable('not a regular file (a FIFO, a device or a folder)'),
        tooLarge: () => unreadable(`larger than ${MAX_CHAIN_FILE_BYTES} bytes, not a chain`),
      })
    ).toString('utf8');
  } catch (error) {
    if (error instanceof X509Error) throw error;
    throw unreadable((error as NodeJS.ErrnoException).code ?? 'failed', { cause: error });
  }
  try {
    return decodeCertificateChainPem(text);
  } catch (error) {
    throw new X509Error(
      'CHAIN_INVALID',
      `reading certificate chain ${shownPath(path)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
