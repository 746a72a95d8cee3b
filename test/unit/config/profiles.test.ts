import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readConfigFile } from '../../../src/config/config-file.js';
import { formatConfig, MASK } from '../../../src/config/print-config.js';
import { ConfigError, resolveLayers } from '../../../src/config/resolve.js';
import type { ServeConfig } from '../../../src/config/schema.js';
import { tempDir } from '../../helpers/openssl.js';

const dir = tempDir();
afterAll(() => dir.cleanup());
let files = 0;

/** The configuration of a config file with `text`. */
function load(text: string): ServeConfig {
  return resolveLayers([readConfigFile(dir.write(`config-${++files}.yaml`, text))]).config;
}

const RSA_PROFILE = `profiles:
  - name: rsa
    policy-oids: [1.2.3.4.100, 1.2.3.4.101]
    timestamp-signer: file
    file-signer-key-path: /keys/rsa.pem
    file-signer-passwd: hunter2
    certificate-chain-path: /keys/rsa-chain.pem
    timestamp-signer-hash: sha256
    include-chain-in-response: true
    accuracy: 2s
    previous-chains:
      - /keys/rsa-2025.pem
      - path: /keys/rsa-2024.pem
        retired: 2025-01-31T00:00:00Z
`;

describe('profiles in the config file', () => {
  it('has none when the file names none (configurations without profiles are unchanged)', () => {
    const config = load('port: 4000\n');
    expect(config.profiles).toBeUndefined();
    expect(config.previousChains).toBeUndefined();
  });

  it('reads policy-oids as a YAML list or as a comma-separated string, as the top-level lists', () => {
    const [profile] =
      load('profiles:\n  - name: a\n    policy-oids: 1.2.3.4, 1.2.3.5\n').profiles ?? [];
    expect(profile?.policyOids).toEqual(['1.2.3.4', '1.2.3.5']);
  });

  it('reads a name of digits that YAML reads as a number as the name it is', () => {
    // Was refused as not "1 to 32 lowercase letters, digits or inner hyphens".
    const [profile] =
      load('profiles:\n  - name: 2027\n    policy-oids: [1.2.3.4]\n').profiles ?? [];
    expect(profile?.name).toBe('2027');
  });

  it('reads a profile: name, policies, the signer union, token options, previous chains', () => {
    const [profile] = load(RSA_PROFILE).profiles ?? [];
    expect(profile).toMatchObject({
      name: 'rsa',
      policyOids: ['1.2.3.4.100', '1.2.3.4.101'],
      certificateChainPath: '/keys/rsa-chain.pem',
      accuracySeconds: 2,
      includeChain: true,
      signer: {
        kind: 'file',
        hash: 'sha256',
        keyPath: '/keys/rsa.pem',
        certificateChainPath: '/keys/rsa-chain.pem',
        password: { flag: 'file-signer-passwd', inline: 'hunter2', file: '' },
      },
      previousChains: [
        { path: '/keys/rsa-2025.pem' },
        { path: '/keys/rsa-2024.pem', retired: new Date('2025-01-31T00:00:00Z') },
      ],
    });
  });

  it('gives a profile the option defaults, not the top-level signer', () => {
    const config = load(`timestamp-signer: file
file-signer-key-path: /keys/top.pem
certificate-chain-path: /keys/top-chain.pem
kms-timeout: 9s
profiles:
  - name: ecdsa
    policy-oids: [1.2.3.4.5]
`);
    expect(config.profiles?.[0]?.signer).toEqual({ kind: 'memory', hash: 'auto' });
    expect(config.profiles?.[0]?.accuracySeconds).toBe(1);
  });

  it('reads the default profile\u2019s previous-chains at the top level', () => {
    const config = load(
      'previous-chains:\n  - path: /old.pem\n    retired: 2026-01-01T00:00:00Z\n',
    );
    expect(config.previousChains).toEqual([
      { path: '/old.pem', retired: new Date('2026-01-01T00:00:00Z') },
    ]);
  });

  it('reads a retirement time as RFC 3339 with its offset, whatever the host time zone', () => {
    const retired = (text: string) =>
      load(`previous-chains:\n  - path: /old.pem\n    retired: "${text}"\n`).previousChains?.[0]
        ?.retired;
    expect(retired('2026-03-01T10:00:00+02:00')).toEqual(new Date(Date.UTC(2026, 2, 1, 8)));
    expect(retired('2026-03-01t10:00:00.250z')).toEqual(
      new Date(Date.UTC(2026, 2, 1, 10, 0, 0, 250)),
    );
    expect(retired('2024-02-29T23:59:59-00:30')).toEqual(new Date(Date.UTC(2024, 2, 1, 0, 29, 59)));
    // RFC 3339's note: a space for the T (`date --rfc-3339=seconds` writes it so).
    expect(retired('2026-12-06 02:00:23+00:00')).toEqual(new Date(Date.UTC(2026, 11, 6, 2, 0, 23)));
    // No offset (read in the host's zone by Date), or not RFC 3339 at all; Feb 30 (Date rolls it over).
    for (const text of [
      '2026-03-01T10:00:00',
      '2026-03-01',
      '2026',
      'March 1, 2026 10:00',
      'Sun, 01 Mar 2026 10:00:00 GMT',
      '2026-02-30T00:00:00Z',
      '2026-03-01T24:00:00Z',
      '2026-03-01T10:00:00+24:00',
    ])
      expect(() => retired(text), text).toThrow(/retired must be an RFC 3339 time/);
  });

  it.each([
    [
      'two profiles with one name',
      'profiles:\n  - {name: a, policy-oids: [1.2.3]}\n  - {name: a, policy-oids: [1.2.4]}\n',
      /two profiles are named "a"/,
    ],
    [
      'two profiles with one policy',
      'profiles:\n  - {name: a, policy-oids: [1.2.3]}\n  - {name: b, policy-oids: [1.2.4, 1.2.3]}\n',
      /policy OID 1\.2\.3 of profile "b" is also profile "a"'s/,
    ],
    [
      "a profile with the default profile's policy",
      'profiles:\n  - {name: a, policy-oids: [1.3.6.1.4.1.57264.2]}\n',
      /policy OID 1\.3\.6\.1\.4\.1\.57264\.2 of profile "a" is also the default profile's/,
    ],
    [
      'a reserved name',
      'profiles:\n  - {name: certchain, policy-oids: [1.2.3]}\n',
      /the name "certchain" is reserved/,
    ],
    [
      'a name that is not URL-safe',
      'profiles:\n  - {name: "a/b", policy-oids: [1.2.3]}\n',
      /name must be 1 to 32 lowercase letters/,
    ],
    [
      'a server-wide option in a profile',
      'profiles:\n  - {name: a, policy-oids: [1.2.3], port: 4000}\n',
      /profile "a": unknown key "port"/,
    ],
    ['no policy', 'profiles:\n  - {name: a}\n', /policy-oids must list at least one OID/],
    [
      'an invalid policy',
      'profiles:\n  - {name: a, policy-oids: [1.2.x]}\n',
      /profile "a": policy-oids: invalid OID "1\.2\.x"/,
    ],
    [
      'a policy OID without an encoding (second arc over 39 under arc 1)',
      'profiles:\n  - {name: a, policy-oids: [1.40.5]}\n',
      /profile "a": policy-oids: invalid OID "1\.40\.5"/,
    ],
    [
      'a policy OID with a leading zero',
      'profiles:\n  - {name: a, policy-oids: [1.2.03]}\n',
      /profile "a": policy-oids: invalid OID "1\.2\.03"/,
    ],
    [
      "the default profile's policy spelt with a leading zero",
      'accepted-policy-oids: [1.3.6.1.4.1.57264.02]\nprofiles:\n  - {name: a, policy-oids: [1.3.6.1.4.1.57264.2]}\n',
      /--accepted-policy-oids: invalid OID "1\.3\.6\.1\.4\.1\.57264\.02"/,
    ],
    [
      'a top-level default policy with a leading zero',
      'default-policy-oid: 1.3.6.1.4.1.57264.02\n',
      /--default-policy-oid: invalid OID "1\.3\.6\.1\.4\.1\.57264\.02"/,
    ],
    [
      'a top-level default policy without an encoding',
      'default-policy-oid: 3.1\n',
      /--default-policy-oid: invalid OID "3\.1"/,
    ],
    [
      'an accepted extension OID that is not one',
      'accepted-extension-oids: [1.2.3, 0.40.1]\n',
      /--accepted-extension-oids: invalid OID "0\.40\.1"/,
    ],
    [
      'qcStatements among the accepted extensions (refused before anything starts, exit 2)',
      'accepted-extension-oids: [1.2.3, 1.3.6.1.5.5.7.1.3]\n',
      /qcStatements \(1\.3\.6\.1\.5\.5\.7\.1\.3\) are never accepted/,
    ],
    [
      'a sub-second accuracy',
      'profiles:\n  - {name: a, policy-oids: [1.2.3], accuracy: 500ms}\n',
      /accuracy must be whole seconds/,
    ],
    [
      'a bad retirement time',
      'profiles:\n  - {name: a, policy-oids: [1.2.3], previous-chains: [{path: /x.pem, retired: soon}]}\n',
      /previous-chains\[0\]: retired must be an RFC 3339 time/,
    ],
    [
      'a bad signer value',
      'profiles:\n  - {name: a, policy-oids: [1.2.3], timestamp-signer: hsm}\n',
      /profile "a": invalid value for key "timestamp-signer"/,
    ],
  ])('refuses %s', (_what, text, message) => {
    expect(() => load(text)).toThrow(ConfigError);
    expect(() => load(text)).toThrow(message);
  });

  it('accepts OIDs in canonical dotted form at the bounds of their first two arcs, and arcs of any size', () => {
    // A UUID OID (X.667): 2.25 and the UUID as one 39-digit integer.
    const uuid = '2.25.329800735698586629295641978511506172918';
    const config = load(`default-policy-oid: 0.39
accepted-policy-oids: [0.39, 1.0, ${uuid}]
accepted-extension-oids: [2.999.5, 1.2.840.113549]
profiles:
  - {name: a, policy-oids: [2.40, 1.39.0.123456789012345678]}
`);
    expect(config.acceptedPolicyOids).toContain(uuid);
    expect(config.profiles?.[0]?.policyOids).toEqual(['2.40', '1.39.0.123456789012345678']);
    expect(config.acceptedExtensionOids).toEqual(['2.999.5', '1.2.840.113549']);
  });

  it('reads qualified per profile, and holds a qualified profile to 1 s and a checked clock', () => {
    const profile = (accuracy: string) => `profiles:
  - name: qualified
    policy-oids: [0.4.0.2023.1.1]
    qualified: true
    accuracy: ${accuracy}
  - name: plain
    policy-oids: [1.2.3.4.5]
`;
    const config = load(`require-time-sync: true\n${profile('1s')}`);
    expect(config.qualified).toBe(false);
    expect(config.profiles?.map((entry) => [entry.name, entry.qualified])).toEqual([
      ['qualified', true],
      ['plain', false],
    ]);
    expect(() => load(profile('1s'))).toThrow(
      'profile "qualified": qualified needs --require-time-sync',
    );
    expect(() => load(`require-time-sync: true\n${profile('2s')}`)).toThrow(
      'profile "qualified": qualified needs an accuracy of at most 1s (ETSI EN 319 421), not 2s',
    );
  });

  it("refuses a signer option that the profile's signer does not use, naming profile and option", () => {
    const refusal = (text: string) => {
      try {
        load(text);
        return undefined;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return [error.code, error.message.replace(/^config file \S+: /, '')];
      }
    };
    // A forgotten timestamp-signer: the in-memory signer would have served in place of the key.
    expect(
      refusal(`profiles:
  - name: prod
    policy-oids: [1.2.3.4.100]
    file-signer-key-path: /keys/prod.pem
    certificate-chain-path: /keys/prod-chain.pem
`),
    ).toEqual([
      'CONFLICTING_OPTIONS',
      'profile "prod": file-signer-key-path, certificate-chain-path are not used by its memory ' +
        "signer (the default: the profile sets no timestamp-signer); set the profile's " +
        'timestamp-signer, or remove them',
    ]);
    // Another signer's key (a secret: never shown), and options of the KMS calls on a file key.
    const fileProfile = (extra: string) =>
      refusal(`profiles:
  - name: rsa
    policy-oids: [1.2.3.4.100]
    timestamp-signer: file
    file-signer-key-path: /keys/rsa.pem
    certificate-chain-path: /keys/rsa-chain.pem
${extra}`);
    expect(fileProfile('    pkcs11-uri: "pkcs11:token=a;object=b?pin-value=1234"\n')).toEqual([
      'CONFLICTING_OPTIONS',
      'profile "rsa": pkcs11-uri is not used by its file signer; set the profile\'s timestamp-signer, or remove it',
    ]);
    expect(fileProfile('    kms-timeout: 2s\n    kms-breaker-threshold: 3\n')?.[1]).toMatch(
      /^profile "rsa": kms-timeout, kms-breaker-threshold are not used by its file signer;/,
    );
    // Each signer's own options, shared ones included, are accepted.
    expect(
      fileProfile('    file-signer-passwd-file: /run/pw\n    timestamp-signer-hash: sha256\n'),
    ).toBe(undefined);
    for (const signer of [
      'timestamp-signer: kms\n    kms-key-resource: awskms:///alias/a\n    kms-timeout: 2s\n    kms-breaker-threshold: 3\n    kms-max-retries: 1',
      'timestamp-signer: tink\n    tink-keyset-path: /k.json\n    tink-key-resource: aws-kms://arn:aws:kms:us-east-1:111122223333:key/x\n    kms-timeout: 2s',
      'timestamp-signer: pkcs11\n    pkcs11-uri: "pkcs11:token=a;object=b"\n    pkcs11-timeout: 2s\n    kms-breaker-cooldown: 5s',
    ])
      expect(
        refusal(
          `profiles:\n  - name: p\n    policy-oids: [1.2.3]\n    certificate-chain-path: /c.pem\n    ${signer}\n`,
        ),
        signer,
      ).toBeUndefined();
    expect(
      refusal(
        'profiles:\n  - {name: m, policy-oids: [1.2.3], timestamp-signer: memory, kms-timeout: 2s}\n',
      ),
    ).toEqual([
      'CONFLICTING_OPTIONS',
      'profile "m": kms-timeout is not used by its memory signer; set the profile\'s timestamp-signer, or remove it',
    ]);
  });

  it('never echoes a profile secret in an error', () => {
    const text = 'profiles:\n  - {name: a, policy-oids: [1.2.3], file-signer-passwd: [hunter2]}\n';
    expect(() => load(text)).toThrow(/file-signer-passwd/);
    expect(() => load(text)).not.toThrow(/hunter2/);
  });

  it('prints profiles back as a config file, secrets masked', () => {
    const printed = formatConfig(load(RSA_PROFILE));
    expect(printed).not.toContain('hunter2');
    const [profile] = (parse(printed) as { profiles: Record<string, unknown>[] }).profiles;
    expect(profile).toMatchObject({
      name: 'rsa',
      'policy-oids': ['1.2.3.4.100', '1.2.3.4.101'],
      accuracy: '2s',
      'file-signer-passwd': MASK,
      'previous-chains': [
        '/keys/rsa-2025.pem',
        { path: '/keys/rsa-2024.pem', retired: '2025-01-31T00:00:00.000Z' },
      ],
    });
    // Read back, it is the same profile (the masked password aside).
    const again = load(printed.replace(MASK, 'hunter2')).profiles?.[0];
    // The file it was read from aside, as each load writes its own.
    expect({ ...again, source: '' }).toEqual({ ...load(RSA_PROFILE).profiles?.[0], source: '' });
  });
});
