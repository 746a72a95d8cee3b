import { readFile } from 'node:fs/promises';
import { decodeCertificateChainPem } from './pem.js';

/** The DER certificates of a PEM chain file, in file order (leaf first, root last). */
export async function loadCertificateChain(path: string): Promise<Buffer[]> {
  if (path === '') throw new Error('--certificate-chain-path is required with this signer');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(
      `reading certificate chain ${path}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`,
    );
  }
  try {
    return decodeCertificateChainPem(text);
  } catch (error) {
    throw new Error(`reading certificate chain ${path}: ${(error as Error).message}`);
  }
}
