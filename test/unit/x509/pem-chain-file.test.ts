import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCertificateChainPem, encodePem } from '../../../src/x509/pem.js';
import { makePki, type Pki } from '../../helpers/pki.js';

/**
 * The server's --certificate-chain-path reader (decodeCertificateChainPem), as Go's
 * cryptoutils.UnmarshalCertificatesFromPEM: text before and between blocks skipped, anything after
 * the last one refused, only CERTIFICATE blocks; and no block merged into the next for lack of its
 * END line (a lenient reader read the two as the first certificate and lost the second).
 */
let pki: Pki;
const pem = (der: Buffer) => encodePem('CERTIFICATE', der);
beforeAll(async () => {
  pki = await makePki();
});

describe('decodeCertificateChainPem (the server’s chain file)', () => {
  it('reads the certificates in order, skipping text before and between them', () => {
    const text = `leaf:\n${pem(pki.leaf.der)}\nintermediate:\n${pem(pki.intermediate.der)}${pem(pki.root.der)}\n`;
    expect(decodeCertificateChainPem(text)).toEqual([
      pki.leaf.der,
      pki.intermediate.der,
      pki.root.der,
    ]);
  });

  it('refuses a block without its END line that another block follows', () => {
    const text = pem(pki.leaf.der).replace('-----END CERTIFICATE-----\n', '') + pem(pki.root.der);
    expect(() => decodeCertificateChainPem(text)).toThrow(
      /^the PEM block "CERTIFICATE" at line 1 has no END line before the next BEGIN, at line \d+$/,
    );
  });

  it('refuses the last block cut short, and a body not in base64', () => {
    expect(() => decodeCertificateChainPem(pki.chainPem.slice(0, -40))).toThrow(
      /has no END line \(is the file truncated\?\)$/,
    );
    expect(() =>
      decodeCertificateChainPem(pki.chainPem.replace(/\n[A-Za-z0-9+/]{4}/, '\n-.-.')),
    ).toThrow('the PEM block "CERTIFICATE" at line 1 is not valid base64');
  });

  it('keeps its refusals of trailing text and of a block of another kind', () => {
    expect(() => decodeCertificateChainPem(`${pki.chainPem}\nnot a certificate\n`)).toThrow(
      `trailing data after the last PEM block, at line ${pki.chainPem.split('\n').length + 1}`,
    );
    expect(() =>
      decodeCertificateChainPem(pki.chainPem + encodePem('PRIVATE KEY', Buffer.from([0x30, 0]))),
    ).toThrow('PEM block 3 is "PRIVATE KEY", not a CERTIFICATE');
    expect(() => decodeCertificateChainPem('no PEM here\n')).toThrow(
      'no certificates found in PEM',
    );
  });
});
