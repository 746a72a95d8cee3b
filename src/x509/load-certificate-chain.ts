import { readFile } from 'node:fs/promises';
import { decodeCertificateChainPem } from './pem.js';
import { X509Error } from './x509-error.js';

/** The DER certificates of a PEM chain file, in file order (leaf first, root last). */
export async function loadCertificateChain(path: string): Promise<Buffer[]> {
  if (path === '')
    throw new X509Error(
      'CHAIN_PATH_MISSING',
      '--certificate-chain-path is required with this signer',
    );
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new X509Error(
      'CHAIN_UNREADABLE',
      `reading certificate chain ${path}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`,
      { cause: error },
    );
  }
  try {
    return decodeCertificateChainPem(text);
  } catch (error) {
    throw new X509Error(
      'CHAIN_INVALID',
      `reading certificate chain ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
