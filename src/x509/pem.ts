import { X509Error } from './x509-error.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
  /** Headers of legacy encrypted PEM (Proc-Type, DEK-Info), if any. */
  headers: Record<string, string>;
}

/** All PEM blocks of a text, in order. */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    const body = match[2] ?? '';
    const headers: Record<string, string> = {};
    const lines: string[] = [];
    for (const line of body.split(/\r?\n/)) {
      const header = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (header) headers[header[1] ?? ''] = header[2] ?? '';
      else lines.push(line.trim());
    }
    blocks.push({ label, der: Buffer.from(lines.join(''), 'base64'), headers });
  }
  return blocks;
}

export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER certificates of a PEM chain, in file order; throws if it holds none. */
export function decodeCertificatesPem(text: string): Buffer[] {
  const certificates = decodePem(text)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => block.der);
  if (certificates.length === 0)
    throw new X509Error('NO_CERTIFICATES', 'no certificates found in PEM');
  return certificates;
}

/**
 * The certificates of a PEM chain file, read as Go's cryptoutils.UnmarshalCertificatesFromPEM
 * reads --certificate-chain-path: text before or between blocks is skipped (pem.Decode does), but
 * anything after the last block, or a block that is not a CERTIFICATE, is refused: a truncated
 * paste or a stray key must stop start-up, not be ignored.
 */
export function decodeCertificateChainPem(text: string): Buffer[] {
  let end = 0;
  const certificates: Buffer[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    if (label !== 'CERTIFICATE') {
      throw new X509Error(
        'NOT_A_CERTIFICATE',
        `PEM block ${certificates.length + 1} is "${label}", not a CERTIFICATE`,
      );
    }
    certificates.push(...decodeCertificatesPem(match[0]));
    end = (match.index ?? 0) + match[0].length;
  }
  if (certificates.length === 0)
    throw new X509Error('NO_CERTIFICATES', 'no certificates found in PEM');
  const trailing = text.slice(end).trim();
  if (trailing !== '') {
    // Its line only, never its content: it might be key material pasted by mistake.
    const line = text.slice(0, end + text.slice(end).indexOf(trailing)).split('\n').length;
    throw new X509Error('TRAILING_DATA', `trailing data after the last PEM block, at line ${line}`);
  }
  return certificates;
}
