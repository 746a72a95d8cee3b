import { X509Certificate } from 'node:crypto';
import { readExactly, Tag } from '../asn1/der.js';
import { X509Error } from './x509-error.js';

export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** An armour line: `-----BEGIN LABEL-----` or `-----END LABEL-----`, trailing blanks allowed. */
const ARMOUR = /^-----(BEGIN|END) ([^-]*)-----[ \t\r]*$/;
/** The base64 of a PEM body, its line breaks and blanks removed: padded, as Go's decoder wants. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A PEM block read strictly, with where it lies in the text (1-based lines). */
interface StrictBlock {
  label: string;
  der: Buffer;
  firstLine: number;
  lastLine: number;
}

/**
 * Every PEM block of a text, refusing what a lenient reader would skip or merge: a BEGIN line
 * without its END line (a truncated file: the block would vanish, or swallow the next one), an END
 * line without its BEGIN, an armour line cut short or followed by text, a body that is not padded base64. Text
 * outside the blocks is left to the caller (`lastLine` says where the last block ends). Errors
 * name lines and labels, never a body: it might be key material.
 */
function readPemStrictly(text: string): StrictBlock[] {
  const lines = text.split('\n');
  const blocks: StrictBlock[] = [];
  let open: { label: string; firstLine: number; body: string[] } | undefined;
  lines.forEach((line, index) => {
    const number = index + 1;
    const armour = ARMOUR.exec(line);
    if (!armour) {
      if (/^-----(BEGIN|END)/.test(line))
        throw new X509Error('INVALID_PEM', `line ${number} is not a whole PEM BEGIN or END line`);
      if (open) open.body.push(line);
      return;
    }
    const [, kind, label = ''] = armour;
    if (kind === 'BEGIN') {
      if (open)
        throw new X509Error(
          'INVALID_PEM',
          `the PEM block "${open.label}" at line ${open.firstLine} has no END line before the next BEGIN, at line ${number}`,
        );
      open = { label, firstLine: number, body: [] };
      return;
    }
    if (!open || open.label !== label)
      throw new X509Error(
        'INVALID_PEM',
        `line ${number} ends a PEM block "${label}" that ${open ? `is not the one open, "${open.label}" at line ${open.firstLine}` : 'was never begun'}`,
      );
    blocks.push({
      label,
      der: pemBody(open.body, open.label, open.firstLine),
      firstLine: open.firstLine,
      lastLine: number,
    });
    open = undefined;
  });
  if (open)
    throw new X509Error(
      'INVALID_PEM',
      `the PEM block "${open.label}" at line ${open.firstLine} has no END line (is the file truncated?)`,
    );
  return blocks;
}

/** The bytes of a block's body: RFC 1421 headers (`Name: value`) first, then padded base64. */
function pemBody(body: string[], label: string, firstLine: number): Buffer {
  let at = 0;
  while (at < body.length && /^[A-Za-z-]+:/.test(body[at] ?? '')) at++;
  const base64 = body
    .slice(at)
    .join('')
    .replace(/[ \t\r]/g, '');
  if (base64 === '' || !BASE64.test(base64))
    throw new X509Error(
      'INVALID_PEM',
      `the PEM block "${label}" at line ${firstLine} is not ${base64 === '' ? 'there: it is empty' : 'valid base64'}`,
    );
  return Buffer.from(base64, 'base64');
}

/**
 * The certificates of a PEM chain file, read as Go's cryptoutils.UnmarshalCertificatesFromPEM
 * reads --certificate-chain-path: text before or between blocks is skipped (pem.Decode does), but
 * anything after the last block, or a block that is not a CERTIFICATE, is refused: a truncated
 * paste or a stray key must stop start-up, not be ignored. So is a block without its END line, even
 * with another block after it (a lenient reader would read the two as one certificate, the
 * second lost), and a body that is not base64.
 */
export function decodeCertificateChainPem(text: string): Buffer[] {
  const blocks = readPemStrictly(text);
  const foreign = blocks.findIndex((block) => block.label !== 'CERTIFICATE');
  if (foreign !== -1)
    throw new X509Error(
      'NOT_A_CERTIFICATE',
      `PEM block ${foreign + 1} is "${blocks[foreign]?.label}", not a CERTIFICATE`,
    );
  if (blocks.length === 0) throw new X509Error('NO_CERTIFICATES', 'no certificates found in PEM');
  const lines = text.split('\n');
  const last = blocks.at(-1)?.lastLine ?? 0;
  // Its line only, never its content: it might be key material pasted by mistake.
  const trailing = lines.slice(last).findIndex((line) => line.trim() !== '');
  if (trailing !== -1)
    throw new X509Error(
      'TRAILING_DATA',
      `trailing data after the last PEM block, at line ${last + trailing + 1}`,
    );
  return blocks.map((block) => block.der);
}

/**
 * The certificates of a PEM file given to timestamp-cli (`verify`'s chain, root, intermediate and
 * TSA certificate files, `log-audit --chain`), read strictly: every block a CERTIFICATE, complete
 * (BEGIN and END) and in base64, each holding exactly one DER certificate that parses, and at
 * least one. Text outside the blocks (a bundle's comments, openssl's `subject=` lines, before,
 * between or after them) is skipped: no armour line there can be a certificate cut short.
 */
export function decodeCertificatesPemStrictly(text: string): Buffer[] {
  const blocks = readPemStrictly(text);
  if (blocks.length === 0) throw new X509Error('NO_CERTIFICATES', 'no certificates found in PEM');
  return blocks.map((block, index) => {
    const where = `PEM block ${index + 1} (line ${block.firstLine})`;
    if (block.label !== 'CERTIFICATE')
      throw new X509Error('NOT_A_CERTIFICATE', `${where} is "${block.label}", not a CERTIFICATE`);
    try {
      readExactly(block.der, Tag.SEQUENCE);
      new X509Certificate(block.der);
    } catch (error) {
      throw new X509Error(
        'NOT_A_CERTIFICATE',
        `${where} is not a DER certificate: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return block.der;
  });
}
