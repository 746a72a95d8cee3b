import { X509Error } from '../../src/x509/x509-error.js';

/**
 * A lenient PEM reader, for PEM the tests and the project wrote: the product reads files a user
 * gives strictly (src/x509/pem.ts: decodeCertificateChainPem, decodeCertificatesPemStrictly).
 */

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** All PEM blocks of a text, in order; RFC 1421 header lines (`Proc-Type: …`) are skipped. */
function decodePem(text: string): { label: string; der: Buffer }[] {
  const blocks: { label: string; der: Buffer }[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const lines = (match[2] ?? '')
      .split(/\r?\n/)
      .filter((line) => !/^([A-Za-z-]+):\s*(.*)$/.test(line))
      .map((line) => line.trim());
    blocks.push({ label: match[1] ?? '', der: Buffer.from(lines.join(''), 'base64') });
  }
  return blocks;
}

/**
 * The DER certificates of a PEM text, in order; throws if it holds none. Other blocks are
 * skipped, and a block without its END line is not seen.
 */
export function decodeCertificatesPem(text: string): Buffer[] {
  const certificates = decodePem(text)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => block.der);
  if (certificates.length === 0)
    throw new X509Error('NO_CERTIFICATES', 'no certificates found in PEM');
  return certificates;
}
