import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { createCertificate, KeyUsage } from '../../../src/x509/certificate-builder.js';
import {
  authorityWindows,
  trustedRootJson,
  TrustedRootError,
} from '../../../src/x509/trusted-root.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

/** A one-certificate chain valid from T0 + `from` days to T0 + `to` days, of its own key or `keys`. */
async function chain(
  name: string,
  from: number,
  to = 400,
  keys = generateKeyPairSync('ec', { namedCurve: 'P-256' }),
) {
  const signer = new LocalKeySigner(name, keys.privateKey, 'sha256');
  const der = await createCertificate(
    {
      subject: { organization: 'test org', commonName: name },
      notBefore: new Date(T0 + from * DAY),
      notAfter: new Date(T0 + to * DAY),
      publicKey: keys.publicKey,
      keyUsage: [KeyUsage.digitalSignature],
      extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
    },
    'self-signed',
    signer,
  );
  return { chain: [parseCertificate(der)], source: name, keys };
}
const day = (days: number) => new Date(T0 + days * DAY);

describe('trusted root windows', () => {
  it('orders chains by leaf notBefore; a retired key ends at `retired`, else at the next leaf', async () => {
    const current = await chain('2026', 200, 390);
    const warnings: string[] = [];
    const windows = authorityWindows(
      current,
      [{ ...(await chain('2025', 100)), retired: day(210) }, await chain('2024', 0)],
      (message) => warnings.push(message),
    );
    expect(warnings).toEqual([]);
    expect(windows.map(({ start, end }) => [start, end])).toEqual([
      [day(0), day(100)],
      [day(100), day(210)],
      [day(200), day(390)],
    ]);
    const root = trustedRootJson(windows.map((window) => ({ window, uri: 'https://tsa/x' })));
    expect(root.mediaType).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1');
    expect(root.timestampAuthorities[0]).toMatchObject({
      subject: { organization: 'test org', commonName: '2024' },
      uri: 'https://tsa/x',
      validFor: { start: '2026-01-01T00:00:00Z', end: '2026-04-11T00:00:00Z' },
    });
    expect(root.timestampAuthorities[2]?.certChain.certificates[0]?.rawBytes).toBe(
      current.chain[0]!.der.toString('base64'),
    );
  });

  it('writes a `retired` time with its fraction: tokens of the milliseconds before it verify', async () => {
    const retired = new Date(day(210).getTime() + 700);
    const windows = authorityWindows(await chain('2026', 200, 390), [
      { ...(await chain('2025', 100)), retired },
    ]);
    const root = trustedRootJson(windows.map((window) => ({ window, uri: undefined })));
    expect(root.timestampAuthorities.map(({ validFor }) => validFor)).toEqual([
      { start: '2026-04-11T00:00:00Z', end: '2026-07-30T00:00:00.700Z' },
      { start: '2026-07-20T00:00:00Z', end: '2027-01-26T00:00:00Z' },
    ]);
  });

  it('never lets a window outlast its chain; warns of a `retired` after the chain expires', async () => {
    const current = await chain('new', 200, 590);
    const warnings: string[] = [];
    const warn = (message: string) => warnings.push(message);
    // Expired before the next leaf began (a gap): the window ends with the chain, not at day 200.
    const gap = authorityWindows(current, [await chain('old', 0, 100)], warn);
    expect(gap.map(({ start, end }) => [start, end])).toEqual([
      [day(0), day(100)],
      [day(200), day(590)],
    ]);
    expect(warnings).toEqual([]);
    // Retired after it expired: the expiry still ends it, and start-up is told.
    const late = authorityWindows(
      current,
      [{ ...(await chain('old2', 0, 100)), retired: day(300) }],
      warn,
    );
    expect(late[0]?.end).toEqual(day(100));
    expect(warnings).toEqual([
      'previous chain old2: retired 2026-10-28T00:00:00Z is after the chain expires ' +
        '(2026-04-11T00:00:00Z); its trusted-root window ends at the expiry',
    ]);
  });

  it("narrows a window to its leaf's private key usage period", async () => {
    /** The chain with a privateKeyUsagePeriod (DER `period`) added to its leaf's extensions. */
    const withPeriod = (entry: Awaited<ReturnType<typeof chain>>, period: string) => {
      const leaf = entry.chain[0]!;
      const extension = {
        oid: OID.privateKeyUsagePeriod,
        critical: false,
        value: Buffer.from(period, 'hex'),
      };
      return { ...entry, chain: [{ ...leaf, extensions: [...leaf.extensions, extension] }] };
    };
    const generalizedTime = (tag: string, days: number) =>
      `${tag}0f${Buffer.from(
        day(days)
          .toISOString()
          .replace(/[-:T]|\.\d{3}/g, ''),
      ).toString('hex')}`;
    // The current key signs from day 210 to 300 of its certificate's 200 to 590; the previous
    // one stopped at day 150 of its certificate's 100 to 400, before the next leaf began.
    const current = withPeriod(
      await chain('current', 200, 590),
      `3022${generalizedTime('80', 210)}${generalizedTime('81', 300)}`,
    );
    const previous = withPeriod(await chain('previous', 100), `3011${generalizedTime('81', 150)}`);
    const windows = authorityWindows(current, [previous]);
    expect(windows.map(({ start, end }) => [start, end])).toEqual([
      [day(100), day(150)],
      [day(210), day(300)],
    ]);
    const unreadable = withPeriod(await chain('unreadable', 0), '3000ff');
    expect(() => authorityWindows(current, [unreadable])).toThrow(
      expect.objectContaining({
        code: 'INVALID_KEY_USAGE_PERIOD',
        message:
          "chain unreadable: the TSA certificate's private key usage period cannot be read: it is not a PrivateKeyUsagePeriod: trailing bytes",
      }),
    );
  });

  it('refuses a previous chain newer than the current one, or retired before it began', async () => {
    const newer = () => authorityWindows({ ...current }, [later]);
    const current = await chain('current', 10);
    const later = await chain('later', 20);
    expect(newer).toThrow(TrustedRootError);
    expect(newer).toThrow(/previous chain later is newer than the current chain current/);
    const early = { ...(await chain('old', 0)), retired: day(-1) };
    try {
      authorityWindows(current, [early]);
      expect.unreachable();
    } catch (error) {
      expect((error as TrustedRootError).code).toBe('RETIRED_OUT_OF_ORDER');
    }
  });

  it('refuses one leaf certificate twice: the current one among the previous, or a previous one listed twice', async () => {
    const current = await chain('current', 100);
    const older = await chain('older', 0);
    for (const [previous, first, second] of [
      [[current], 'current', 'current'],
      [[older, { ...older, source: 'older again' }], 'older', 'older again'],
    ] as const) {
      const windows = () => authorityWindows(current, previous);
      expect(windows).toThrow(TrustedRootError);
      expect(windows).toThrow(`chains ${first} and ${second} have one leaf certificate`);
    }
  });

  it('takes an older certificate of the current key as a previous chain (a certificate renewed)', async () => {
    const current = await chain('current', 100);
    const renewed = await chain('older', 0, 400, current.keys);
    expect(authorityWindows(current, [renewed]).map(({ start, end }) => [start, end])).toEqual([
      [day(0), day(100)],
      [day(100), day(400)],
    ]);
  });
});
