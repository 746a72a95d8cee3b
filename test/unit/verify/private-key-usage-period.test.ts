import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { verifyTimestampResponse } from '../../../src/verify/index.js';
import { readPrivateKeyUsagePeriod } from '../../../src/verify/private-key-usage-period.js';
import { decodeCertificateChainPem } from '../../../src/x509/pem.js';
import { tempDir } from '../../helpers/openssl.js';
import { EXT, OpensslPki, privateKeyUsagePeriodExt } from '../../helpers/openssl-pki.js';
import { encoderFor, acceptedRequest, issueToken, makePki, type Pki } from '../../helpers/pki.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { verificationRefusal as refusal } from '../../helpers/verification.js';

const artifact = Buffer.from('private key usage period\n');
const SECOND = 1000;
const DAY = 86_400_000;
// A fixed instant: no test here depends on the wall clock.
const NOW = new Date('2030-06-01T12:00:00Z');
const at = (ms: number) => new Date(NOW.getTime() + ms);

const time = (tag: string, text: string) =>
  `${tag}${text.length.toString(16).padStart(2, '0')}${Buffer.from(text, 'latin1').toString('hex')}`;
const sequence = (...fields: string[]) => {
  const content = fields.join('');
  return `30${(content.length / 2).toString(16).padStart(2, '0')}${content}`;
};
const read = (hex: string) => readPrivateKeyUsagePeriod(Buffer.from(hex, 'hex'));

describe("the verifier's privateKeyUsagePeriod reader (X.509 section 9.2.2.5)", () => {
  const from = time('80', '20260102030405Z');
  const until = time('81', '20270708091011Z');

  it('reads both bounds, or either alone', () => {
    expect(read(sequence(from, until))).toEqual({
      notBefore: new Date('2026-01-02T03:04:05Z'),
      notAfter: new Date('2027-07-08T09:10:11Z'),
    });
    expect(read(sequence(until))).toEqual({ notAfter: new Date('2027-07-08T09:10:11Z') });
    expect(read(sequence(from))).toEqual({ notBefore: new Date('2026-01-02T03:04:05Z') });
  });

  it.each([
    [
      'neither bound (RFC 3280: at least one)',
      sequence(),
      /^it has neither notBefore nor notAfter/,
    ],
    [
      'a UTCTime text',
      sequence(time('81', '270708091011Z')),
      /^its notAfter: GeneralizedTime not in the DER form$/,
    ],
    [
      'a local time',
      sequence(time('80', '20270708091011')),
      /^its notBefore: GeneralizedTime not in the DER form$/,
    ],
    [
      'a fraction of a second',
      sequence(time('81', '20270708091011.5Z')),
      /^its notAfter 20270708091011.5Z has a fraction of a second/,
    ],
    [
      'February 30',
      sequence(time('81', '20270230000000Z')),
      /^its notAfter: GeneralizedTime 20270230000000Z has day 30 of month 2$/,
    ],
    ['hour 24', sequence(time('81', '20270101240000Z')), /has hour 24$/],
    [
      'the bounds in the wrong order',
      sequence(until, from),
      /^the PrivateKeyUsagePeriod has 1 element\(s\) its schema does not have$/,
    ],
    [
      'a bound explicitly tagged',
      sequence(`a011${time('18', '20270101000000Z')}`),
      /^the PrivateKeyUsagePeriod has 1 element/,
    ],
    ['not a SEQUENCE', until, /^the PrivateKeyUsagePeriod is not a SEQUENCE$/],
    ['bytes after it', `${sequence(until)}0500`, /^bytes after the PrivateKeyUsagePeriod$/],
    [
      'a length in the long form below 128',
      `3081${sequence(until).slice(2)}`,
      /^non-minimal length at offset 0$/,
    ],
    ['nothing', '', /^truncated value at offset 0$/],
    [
      'an end before the start',
      sequence(time('80', '20270101000000Z'), time('81', '20260101000000Z')),
      /^it ends \(2026-01-01T00:00:00.000Z\) before it begins \(2027-01-01T00:00:00.000Z\)$/,
    ],
  ])('refuses %s', (_what, hex, reason) => {
    expect(() => read(hex)).toThrow(reason);
  });
});

describe("genTime within the TSA key's private key usage period (beyond Go, OpenSSL, Bouncy Castle)", () => {
  // The leaf is valid from NOW - 30 days to NOW + 365 days; its key may sign for two days of it.
  const period = { notBefore: at(-DAY), notAfter: at(DAY) };
  let both: Pki;
  let onlyNotAfter: Pki;
  let onlyNotBefore: Pki;
  beforeAll(async () => {
    both = await makePki({ leaf: { privateKeyUsagePeriod: period } }, NOW);
    onlyNotAfter = await makePki(
      { leaf: { privateKeyUsagePeriod: { notAfter: period.notAfter } } },
      NOW,
    );
    onlyNotBefore = await makePki(
      { leaf: { privateKeyUsagePeriod: { notBefore: period.notBefore } } },
      NOW,
    );
  });
  const verifyAt = async (pki: Pki, genTime: Date) =>
    verifyTimestampResponse(await issueToken(pki, { artifact, genTime }), artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    });
  const refusedAt = async (pki: Pki, genTime: Date) => {
    const error = await refusal(verifyAt(pki, genTime));
    expect(error.code).toBe('tsa-certificate');
    return error.message;
  };
  const BOTH = '2030-05-31T12:00:00.000Z to 2030-06-02T12:00:00.000Z';

  it('accepts a genTime inside the period, and at each of its bounds', async () => {
    for (const genTime of [NOW, period.notBefore, period.notAfter]) {
      await expect(verifyAt(both, genTime)).resolves.toMatchObject({ genTime });
    }
  });

  it('refuses a genTime a second before the period, naming the genTime and the period', async () => {
    expect(await refusedAt(both, at(-DAY - SECOND))).toBe(
      `failed to verify TSA certificate: the token's genTime 2030-05-31T11:59:59.000Z is outside its private key usage period, ${BOTH}`,
    );
  });

  it('refuses a genTime a second after the period, though the certificate is valid then', async () => {
    expect(await refusedAt(both, at(DAY + SECOND))).toBe(
      `failed to verify TSA certificate: the token's genTime 2030-06-02T12:00:01.000Z is outside its private key usage period, ${BOTH}`,
    );
    // Checked at genTime, as the certificate's validity: a later currentTime changes nothing.
    const token = await issueToken(both, { artifact, genTime: at(10 * DAY) });
    const error = await refusal(
      verifyTimestampResponse(token, artifact, {
        roots: [both.root.der],
        intermediates: [both.intermediate.der],
        currentTime: NOW,
      }),
    );
    expect(error.message).toMatch(
      /genTime 2030-06-11T12:00:00.000Z is outside its private key usage period/,
    );
  });

  it('with only a notAfter, bounds genTime above only', async () => {
    await expect(verifyAt(onlyNotAfter, at(-20 * DAY))).resolves.toBeDefined();
    await expect(verifyAt(onlyNotAfter, period.notAfter)).resolves.toBeDefined();
    expect(await refusedAt(onlyNotAfter, at(DAY + SECOND))).toMatch(
      /genTime 2030-06-02T12:00:01.000Z is outside its private key usage period, until 2030-06-02T12:00:00.000Z$/,
    );
  });

  it('with only a notBefore, bounds genTime below only', async () => {
    await expect(verifyAt(onlyNotBefore, at(200 * DAY))).resolves.toBeDefined();
    await expect(verifyAt(onlyNotBefore, period.notBefore)).resolves.toBeDefined();
    expect(await refusedAt(onlyNotBefore, at(-DAY - SECOND))).toMatch(
      /genTime 2030-05-31T11:59:59.000Z is outside its private key usage period, from 2030-05-31T12:00:00.000Z$/,
    );
  });
});

/**
 * Leaves made by openssl with the extension's bytes as given (its arbitrary-extension syntax): the
 * malformed ones the builder cannot write, and the verdict of `openssl ts -verify`, which does not
 * read the extension.
 */
describe('a TSA certificate whose privateKeyUsagePeriod openssl wrote', () => {
  const work = tempDir();
  afterAll(() => work.cleanup());
  const pki = new OpensslPki(work.dir);
  const artifactFile = work.write('artifact', artifact);
  const der = (name: string) =>
    decodeCertificateChainPem(readFileSync(pki.path(`${name}.pem`), 'utf8'))[0]!;
  beforeAll(async () => {
    await pki.key('root');
    await pki.cert('root', { subject: '/O=test/CN=Period Root', ext: EXT.root, days: 3650 });
  });

  /** A leaf of the root with `extension` added (openssl makes it valid from now), and a token it signed at `genTime`. */
  async function leafAndToken(name: string, extension: string, genTime = new Date()) {
    await pki.key(name);
    await pki.cert(name, {
      subject: `/O=test/CN=${name}`,
      ext: `${EXT.leaf}\n${extension}`,
      issuer: 'root',
      days: 30,
    });
    const signer = new LocalKeySigner(
      name,
      createPrivateKey(readFileSync(pki.path(`${name}.key`))),
      'sha256',
    );
    const encoder = encoderFor(signer, [der(name)], false);
    const token = await encoder.encode({
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('03', 'hex'),
      genTime: encoder.genTimeAt(genTime.getTime()),
    });
    return { token, reply: work.write(`${name}.tsr`, token) };
  }
  const ours = (token: Buffer) =>
    verifyTimestampResponse(token, artifact, { roots: [der('root')] });

  it.each([
    [
      'neither bound',
      privateKeyUsagePeriodExt({}),
      /cannot be read: it has neither notBefore nor notAfter/,
    ],
    [
      'a bound with a fraction of a second',
      privateKeyUsagePeriodExt({ notAfter: new Date(Date.now() + DAY) }, (date) =>
        date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+/, '.5'),
      ),
      /cannot be read: its notAfter \d{14}\.5Z has a fraction of a second/,
    ],
    [
      'a UTCTime text',
      privateKeyUsagePeriodExt({ notAfter: new Date(Date.now() + DAY) }, (date) =>
        date
          .toISOString()
          .replace(/[-:T]|\.\d{3}/g, '')
          .slice(2),
      ),
      /cannot be read: its notAfter: GeneralizedTime not in the DER form/,
    ],
    [
      'not a SEQUENCE',
      '2.5.29.16=DER:05:00',
      /cannot be read: the PrivateKeyUsagePeriod is not a SEQUENCE/,
    ],
  ])('refuses a token whose leaf has %s', async (name, extension, reason) => {
    const { token } = await leafAndToken(name.replace(/\W+/g, '-'), extension);
    const error = await refusal(ours(token));
    expect(error.code).toBe('tsa-certificate');
    expect(error.message).toMatch(
      /^failed to verify TSA certificate: its private key usage period \(2\.5\.29\.16\) cannot be read: /,
    );
    expect(error.message).toMatch(reason);
  });

  it('refuses a leaf whose privateKeyUsagePeriod is critical, as an unhandled critical extension (as Go and OpenSSL)', async () => {
    const line = privateKeyUsagePeriodExt({ notAfter: new Date(Date.now() + DAY) }).replace(
      '=DER:',
      '=critical,DER:',
    );
    const { token, reply } = await leafAndToken('critical', line);
    const error = await refusal(ours(token));
    expect(error.code).toBe('chain');
    expect(error.message).toMatch(/unhandled critical extension 2\.5\.29\.16/);
    await expect(
      opensslTsVerify(
        reply,
        { data: artifactFile },
        { root: pki.path('root.pem'), untrusted: pki.path('critical.pem') },
      ),
    ).rejects.toThrow(/unsupported certificate extension|unhandled critical extension/);
  });

  it('refuses a token dated after the period that openssl ts -verify accepts (it does not read the extension)', async () => {
    // The key may sign until a minute ago; the token says now, within the certificate's validity.
    const notAfter = new Date(Math.floor(Date.now() / SECOND) * SECOND - 60 * SECOND);
    const { token, reply } = await leafAndToken('ended', privateKeyUsagePeriodExt({ notAfter }));
    const error = await refusal(ours(token));
    expect(error.message).toMatch(
      new RegExp(`is outside its private key usage period, until ${notAfter.toISOString()}$`),
    );
    expect(
      await opensslTsVerify(
        reply,
        { data: artifactFile },
        { root: pki.path('root.pem'), untrusted: pki.path('ended.pem') },
      ),
    ).toMatch(/Verification: OK/);
  });
});
