import { beforeAll, describe, expect, it } from 'vitest';
import { integer, sequence, tlv } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import { verifyTimestampResponse } from '../../../src/index.js';
import {
  createCertificate,
  KeyUsage,
  subjectKeyIdentifier,
} from '../../../src/x509/certificate-builder.js';
import { encodeName } from '../../../src/x509/name.js';
import {
  acceptedRequest,
  encoderFor,
  issueToken,
  makePki,
  newSigner,
  type Pki,
} from '../../helpers/pki.js';
import { verificationRefusal } from '../../helpers/verification.js';

/**
 * Responses a hostile TSA (or a man in the middle of `timestamp-cli timestamp`) could send, each
 * answered with a VerificationError that says what is wrong in a few words: a 150 KB INTEGER
 * took 29 s to read (a bigint built octet by octet), 4,500 nested SEQUENCEs overflowed the DER
 * check's stack (a bare RangeError), and 60,000 statusStrings made a 180 KB message.
 */
const artifact = Buffer.from('hostile sizes\n');
const UTF8_STRING = 0x0c;

const refusal = (tsr: Buffer, pki: Pki) =>
  verificationRefusal(
    verifyTimestampResponse(tsr, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    }),
  );

describe('hostile sizes in a response', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki();
  });

  it('a 200 KB PKIStatus, of either sign, is refused as past any status, not printed', async () => {
    const status = BigInt(`0x5a${'a5'.repeat(200_000)}`);
    for (const value of [status, -status]) {
      const error = await refusal(sequence(sequence(integer(value))), pki);
      expect(error.code).toBe('not-granted');
      expect(error.message).toBe(
        'the response status is past any PKIStatus, not granted (no failure info)',
      );
    }
    // Within a byte, an unknown status is printed.
    const six = await refusal(sequence(sequence(integer(6))), pki);
    expect(six.message).toBe('the response status is 6, not granted (no failure info)');
  });

  it('a failInfo of 100 KB of set bits names ten, not 800,000 (a message of megabytes)', async () => {
    const failInfo = tlv(0x03, Buffer.concat([Buffer.of(0), Buffer.alloc(100_000, 0xff)]));
    const error = await refusal(sequence(sequence(integer(2), failInfo)), pki);
    expect(error.message).toBe(
      'the request is rejected (badAlg, bit 1, badRequest, bit 3, bit 4, badDataFormat, bit 6, bit 7, bit 8, bit 9, …)',
    );
  });

  it('a token with a 200 KB nonce verifies, its nonce read whole', async () => {
    const nonce = BigInt(`0x${'5a'.repeat(200_000)}`);
    const tsr = await issueToken(pki, { artifact, nonce });
    const verified = await verifyTimestampResponse(tsr, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
      nonce,
    });
    expect(verified.nonce).toBe(nonce);
  });

  it('values nested thousands deep are refused as not DER, not a stack overflow', async () => {
    let nested: Buffer = sequence();
    for (let depth = 0; depth < 5_000; depth++) nested = sequence(nested);
    const error = await refusal(sequence(sequence(integer(2), nested)), pki);
    expect(error.code).toBe('malformed');
    expect(error.message).toMatch(
      /^error parsing response into Timestamp: the response is not DER: values nested more than 64 deep at offset \d+$/,
    );
  });

  it('a statusString of 60,000 texts is quoted up to 1,000 characters', async () => {
    const texts = Array.from({ length: 60_000 }, () => tlv(UTF8_STRING, Buffer.from('no')));
    const error = await refusal(sequence(sequence(integer(2), sequence(...texts))), pki);
    expect(error.message).toBe(`the request is rejected: ${'no; '.repeat(250)}… (no failure info)`);
  });
});

describe('a self-signed TSA certificate', () => {
  it('is an unknown authority, not an issuer lacking keyCertSign (it is no issuer at all)', async () => {
    const pki = await makePki();
    const signer = newSigner('self-signed TSA');
    const name = { commonName: 'TSA self' };
    const self = await createCertificate(
      {
        subject: name,
        notBefore: new Date(Date.now() - 86_400_000),
        notAfter: new Date(Date.now() + 86_400_000),
        publicKey: signer.publicKey,
        keyUsage: [KeyUsage.digitalSignature],
        extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
      },
      {
        name: encodeName(name),
        signer,
        subjectKeyIdentifier: subjectKeyIdentifier(signer.publicKey),
      },
    );
    const encoder = encoderFor(signer, [self], true);
    const tsr = await encoder.encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('0e', 'hex'),
      genTime: encoder.genTimeAt(Date.now()),
    });
    const error = await refusal(tsr, pki);
    expect(error.message).toBe(
      'error while verifying signer certificate chain: x509: certificate signed by unknown authority (no trusted issuer for "CN=TSA self")',
    );
  });
});
