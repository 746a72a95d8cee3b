import { afterAll, describe, expect, it } from 'vitest';
import { OID } from '../../../src/asn1/oids.js';
import type { ProfileConfig } from '../../../src/config/profiles.js';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { createTrustedRoot } from '../../../src/runtime/profiles.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { KeyUsage } from '../../../src/x509/certificate-builder.js';
import { ChainRuleError } from '../../../src/x509/chain-rules.js';
import { encodePem } from '../../../src/x509/pem.js';
import { TrustedRootError } from '../../../src/x509/trusted-root.js';
import { UNREADABLE_TIME, withTime } from '../../helpers/certificate-time.js';
import { tempDir } from '../../helpers/openssl.js';
import { issue, makePki, type Pki } from '../../helpers/pki.js';

const YEAR = 365 * 86_400_000;
const dir = tempDir();
afterAll(() => dir.cleanup());

const chainOf = (pki: Pki) => [pki.leaf.der, pki.intermediate.der, pki.root.der];
const pemOf = (ders: readonly Uint8Array[]) =>
  ders.map((der) => encodePem('CERTIFICATE', der)).join('');

/** The trusted root of `current`'s chain with one previous chain, written to the file `name`. */
const trustedRootWithPrevious = (current: Pki, previous: readonly Uint8Array[], name: string) =>
  createTrustedRoot(
    { ...resolveServeConfig({}), previousChains: [{ path: dir.write(name, pemOf(previous)) }] },
    chainOf(current).map(parseCertificate),
    [],
    () => {},
  );

describe('createTrustedRoot with previous-chains', () => {
  it('refuses at start-up a previous chain with a date Node cannot read, naming file and certificate', async () => {
    const current = await makePki();
    const old = await makePki({}, new Date(Date.now() - YEAR));
    const trustedRoot = (previous: readonly Uint8Array[], name: string) =>
      trustedRootWithPrevious(current, previous, name);

    // The same chain with its root readable is served: the refusal is the date's alone.
    const served = (await trustedRoot(chainOf(old), 'good.pem'))('https://tsa.example');
    expect(served.timestampAuthorities).toHaveLength(2);

    const [leaf, intermediate, root] = chainOf(old);
    const unreadable = withTime(root!, 'notAfter', UNREADABLE_TIME.nanUtcTime);
    // Without the check the start succeeded, and every GET of the trusted root threw a
    // RangeError (toISOString of the NaN window end): a 500.
    const refusal = await trustedRoot([leaf!, intermediate!, unreadable], 'old.pem').catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ChainRuleError);
    expect(refusal).toMatchObject({
      code: 'INVALID_CERTIFICATE',
      message: expect.stringContaining(
        `previous chain ${dir.path('old.pem')}: certificate 2 "Test Root" has a notAfter ` +
          'that cannot be read ("Bad time value"',
      ),
    });
  });

  it('refuses a previous chain verifiers cannot follow (reversed, a root alone, a CA as leaf), naming the file', async () => {
    const current = await makePki();
    // A retired chain: its leaf expired a month ago, which is no reason to refuse it.
    const old = await makePki(
      { leaf: { notAfter: new Date(Date.now() - YEAR / 12) } },
      new Date(Date.now() - YEAR),
    );
    const trustedRoot = (previous: readonly Uint8Array[], name: string) =>
      trustedRootWithPrevious(current, previous, name);
    const served = (await trustedRoot(chainOf(old), 'expired.pem'))('https://tsa.example');
    expect(served.timestampAuthorities).toHaveLength(2);

    // Each was published as given: tokens of the retired key then failed to verify against
    // the trusted root ("no timestamp authority of the trusted root signed this token").
    const [leaf, intermediate, root] = chainOf(old);
    for (const [name, chain, code, message] of [
      [
        'reversed.pem',
        [root!, intermediate!, leaf!],
        'UNKNOWN_AUTHORITY',
        'x509: certificate signed by unknown authority',
      ],
      [
        'root-alone.pem',
        [root!],
        'CHAIN_TOO_SHORT',
        'certificate chain must contain at least two certificates',
      ],
      [
        'ca-leaf.pem',
        [intermediate!, root!],
        'LEAF_IS_A_CA',
        'leaf certificate must be an end-entity certificate',
      ],
    ] as const) {
      const refusal = await trustedRoot(chain, name).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(ChainRuleError);
      expect(refusal).toMatchObject({
        code,
        message: expect.stringContaining(`previous chain ${dir.path(name)}: ${message}`),
      });
    }
  });

  it('warns of two profiles with one key and refuses the current chain as a previous one, naming both', async () => {
    const [one, two] = [await makePki(), await makePki()];
    const profile = (name: string, path: string) =>
      ({ name, certificateChainPath: path, previousChains: [] }) as unknown as ProfileConfig;
    const config = {
      ...resolveServeConfig({}),
      certificateChainPath: '/keys/default.pem',
      profiles: [profile('a', '/keys/a.pem'), profile('b', '/keys/b.pem')],
    };
    const warnings: string[] = [];
    const trustedRoot = (named: readonly Pki[], previous = config.previousChains) =>
      createTrustedRoot(
        { ...config, ...(previous ? { previousChains: previous } : {}) },
        chainOf(one).map(parseCertificate),
        named.map((pki, index) => ({
          name: index === 0 ? 'a' : 'b',
          chain: chainOf(pki).map(parseCertificate),
        })),
        (message) => warnings.push(message),
      );
    expect((await trustedRoot([two]))(undefined).timestampAuthorities).toHaveLength(2);
    expect(warnings).toEqual([]);
    // Profiles that differ only in digest or accuracy may share a key: served, with a warning.
    expect((await trustedRoot([two, two]))(undefined).timestampAuthorities).toHaveLength(3);
    await trustedRoot([one]);
    expect(warnings).toEqual([
      'profiles "a" (/keys/a.pem) and "b" (/keys/b.pem) sign with one key: a token of either verifies with the other\'s chain, its policy OID alone tells them apart',
      'profiles "default" (/keys/default.pem) and "a" (/keys/a.pem) sign with one key: a token of either verifies with the other\'s chain, its policy OID alone tells them apart',
    ]);
    // The current chain listed again as a previous one: a window from its notBefore to itself.
    const again = dir.write('current.pem', pemOf(chainOf(one)));
    await expect(trustedRoot([two], [{ path: again }])).rejects.toThrow(TrustedRootError);
    await expect(trustedRoot([two], [{ path: again }])).rejects.toThrow(
      `chains ${again} and /keys/default.pem have one leaf certificate`,
    );
  });

  it("refuses another profile's current chain as a previous one, and warns of its key in another certificate", async () => {
    const [live, other] = [await makePki(), await makePki()];
    const warnings: string[] = [];
    const trustedRoot = (previous: readonly Uint8Array[]) =>
      createTrustedRoot(
        {
          ...resolveServeConfig({}),
          certificateChainPath: '/keys/default.pem',
          profiles: [
            {
              name: 'rsa',
              certificateChainPath: '/keys/rsa.pem',
              previousChains: [{ path: dir.write('rsa-previous.pem', pemOf(previous)) }],
            } as unknown as ProfileConfig,
          ],
        },
        chainOf(live).map(parseCertificate),
        [{ name: 'rsa', chain: chainOf(other).map(parseCertificate) }],
        (message) => warnings.push(message),
      );
    // The default profile's live chain, retired under "rsa": its entry would say the key retired.
    const refusal = await trustedRoot(chainOf(live)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(TrustedRootError);
    expect((refusal as TrustedRootError).message).toBe(
      `previous chain ${dir.path('rsa-previous.pem')} of profile "rsa" is the current chain of profile "default" (/keys/default.pem): a key cannot be retired in one profile and sign in another`,
    );
    expect(warnings).toEqual([]);
    // Another certificate of the live key (renewed), retired under "rsa": served, with a warning.
    const renewedLeaf = await issue(
      live.leaf.signer,
      {
        subject: live.leaf.subject,
        publicKey: live.leaf.signer.publicKey,
        notBefore: new Date(Date.now() - YEAR / 6),
        notAfter: new Date(Date.now() + YEAR),
        keyUsage: [KeyUsage.digitalSignature],
        extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
      },
      live.intermediate,
    );
    const renewed = [renewedLeaf, live.intermediate.der, live.root.der];
    expect((await trustedRoot(renewed))(undefined).timestampAuthorities).toHaveLength(3);
    expect(warnings).toEqual([
      `previous chain ${dir.path('rsa-previous.pem')} of profile "rsa" has the key of the current chain of profile "default" (/keys/default.pem): its trusted-root entry says the key was retired while it still signs`,
    ]);
  });
});
