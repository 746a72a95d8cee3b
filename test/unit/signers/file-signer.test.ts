import { createPrivateKey } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileSigner } from '../../../src/signers/file/file-signer.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { encryptSigstoreKey } from '../../helpers/sigstore-key.js';

const PASSWORD = 'correct horse battery staple';
const work = tempDir();

/** The SPKI (DER) of a PEM key file, as openssl computes it. */
async function opensslSpki(keyPath: string, password?: string): Promise<Buffer> {
  const out = work.path(`${Math.random()}.spki`);
  await openssl([
    'pkey',
    '-in',
    keyPath,
    ...(password ? ['-passin', `pass:${password}`] : []),
    '-pubout',
    '-outform',
    'DER',
    '-out',
    out,
  ]);
  return readFileSync(out);
}

async function load(keyPath: string, password = '', hash: 'sha256' | 'sha512' = 'sha256') {
  const warnings: string[] = [];
  const signer = await createFileSigner({
    keyPath,
    password,
    hash,
    warn: (message) => warnings.push(message),
  });
  return { signer, warnings, spki: signer.publicKey.export({ type: 'spki', format: 'der' }) };
}

const keys: Record<string, string> = {};

beforeAll(async () => {
  const gen = async (name: string, args: string[]) => {
    keys[name] = work.path(`${name}.pem`);
    await openssl(['genpkey', ...args, '-out', keys[name]]);
    chmodSync(keys[name], 0o600);
  };
  await gen('rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
  await gen('ec', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']);
  await gen('ed25519', ['-algorithm', 'ED25519']);
  const derive = async (name: string, args: string[]) => {
    keys[name] = work.path(`${name}.pem`);
    await openssl([...args, '-out', keys[name]]);
    chmodSync(keys[name], 0o600);
  };
  await derive('pkcs1', ['pkey', '-in', keys.rsa!, '-traditional']);
  await derive('sec1', ['pkey', '-in', keys.ec!, '-traditional']);
  await derive('pkcs8-encrypted', [
    'pkcs8',
    '-topk8',
    '-in',
    keys.ec!,
    '-v2',
    'aes-256-cbc',
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  await derive('legacy-rsa', [
    'pkey',
    '-in',
    keys.rsa!,
    '-traditional',
    '-aes256',
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  await derive('legacy-ec', [
    'pkey',
    '-in',
    keys.ec!,
    '-traditional',
    '-aes128',
    '-passout',
    `pass:${PASSWORD}`,
  ]);
  const pkcs8 = (name: string) =>
    createPrivateKey(readFileSync(keys[name]!)).export({ type: 'pkcs8', format: 'der' });
  for (const [name, source, label] of [
    ['sigstore-ec', 'ec', 'ENCRYPTED SIGSTORE PRIVATE KEY'],
    ['sigstore-rsa', 'rsa', 'ENCRYPTED SIGSTORE PRIVATE KEY'],
    ['cosign-ed25519', 'ed25519', 'ENCRYPTED COSIGN PRIVATE KEY'],
  ] as const) {
    keys[name] = work.write(`${name}.pem`, encryptSigstoreKey(pkcs8(source), PASSWORD, label));
    chmodSync(keys[name], 0o600);
  }
});
afterAll(() => work.cleanup());

describe('file signer: key formats made by openssl', () => {
  it.each([
    ['PKCS#8 RSA', 'rsa', 'rsa'],
    ['PKCS#8 EC', 'ec', 'ec'],
    ['PKCS#1 (RSA PRIVATE KEY)', 'pkcs1', 'rsa'],
    ['SEC1 (EC PRIVATE KEY)', 'sec1', 'ec'],
  ])('reads %s', async (_label, name, source) => {
    const { signer, warnings } = await load(keys[name]!);
    expect(signer.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      await opensslSpki(keys[source]!),
    );
    expect(warnings).toEqual([]);
    expect(readFileSync(keys[name]!, 'utf8')).not.toContain('ENCRYPTED');
  });

  it.each([
    ['encrypted PKCS#8', 'pkcs8-encrypted', 'ec'],
    ['legacy encrypted PEM, RSA', 'legacy-rsa', 'rsa'],
    ['legacy encrypted PEM, EC', 'legacy-ec', 'ec'],
    ['sigstore encrypted, EC', 'sigstore-ec', 'ec'],
    ['sigstore encrypted, RSA', 'sigstore-rsa', 'rsa'],
  ])(
    'reads %s with the right password, refuses a wrong or missing one',
    async (_label, name, source) => {
      const { spki } = await load(keys[name]!, PASSWORD);
      expect(spki).toEqual(await opensslSpki(keys[source]!));
      const wrong = load(keys[name]!, 'wrong password');
      await expect(wrong).rejects.toThrow(`file: reading key path ${keys[name]}: `);
      await expect(wrong).rejects.toThrow(/decryption failed|wrong password/);
      await expect(load(keys[name]!, '')).rejects.toThrow(`file: reading key path ${keys[name]}`);
    },
  );

  it('keeps the code of a wrong password (DECRYPTION_FAILED) and a missing one (KEY_ENCRYPTED)', async () => {
    for (const name of ['pkcs8-encrypted', 'legacy-rsa', 'sigstore-ec']) {
      await expect(load(keys[name]!, 'wrong password')).rejects.toMatchObject({
        code: 'DECRYPTION_FAILED',
        message: expect.stringMatching(
          /^file: reading key path .*: (encrypted key: )?decryption failed \(wrong password\?\)$/,
        ),
      });
    }
    for (const name of ['pkcs8-encrypted', 'legacy-ec']) {
      await expect(load(keys[name]!, '')).rejects.toMatchObject({
        code: 'KEY_ENCRYPTED',
        message: `file: reading key path ${keys[name]}: the key is encrypted: set --file-signer-passwd-file (or --file-signer-passwd)`,
      });
    }
    await expect(load(work.path('missing.pem'))).rejects.toMatchObject({ code: 'KEY_UNREADABLE' });
  });

  it('reads an Ed25519 key in the cosign format; Ed25519 needs SHA-512 (RFC 8419)', async () => {
    const { signer } = await load(keys['cosign-ed25519']!, PASSWORD, 'sha512');
    expect(signer.algorithm.keyType).toBe('ed25519');
    expect(signer.algorithm.hash).toBe('sha512');
    await expect(load(keys['cosign-ed25519']!, PASSWORD, 'sha256')).rejects.toThrow(
      /is not valid: Ed25519 keys require the SHA-512 digest \(RFC 8419\); set --timestamp-signer-hash=sha512/,
    );
  });

  it('says "wrong password" for every wrong password, also when the garbage happens to pass the CBC padding', async () => {
    for (const name of ['pkcs8-encrypted', 'legacy-ec']) {
      for (let attempt = 0; attempt < 40; attempt++) {
        await expect(load(keys[name]!, `wrong-${attempt}`)).rejects.toThrow(
          `file: reading key path ${keys[name]}: decryption failed (wrong password?)`,
        );
      }
    }
  });

  it('legacy encrypted PEM files carry Proc-Type and DEK-Info (the format under test)', () => {
    const text = readFileSync(keys['legacy-rsa']!, 'utf8');
    expect(text).toContain('Proc-Type: 4,ENCRYPTED');
    expect(text).toContain('DEK-Info: AES-256-CBC');
  });

  it('never puts the password in an error', async () => {
    const secret = 'S3cret-Passw0rd-Marker';
    for (const name of ['pkcs8-encrypted', 'legacy-ec', 'sigstore-ec']) {
      const error = await load(keys[name]!, secret).catch((caught: unknown) => caught as Error);
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).not.toContain(secret);
      expect(String((error as Error).stack)).not.toContain(secret);
    }
  });

  it('refuses key types other than RSA, ECDSA and Ed25519 with the Go message', async () => {
    const ed448 = work.path('ed448.pem');
    await openssl(['genpkey', '-algorithm', 'ED448', '-out', ed448]);
    chmodSync(ed448, 0o600);
    await expect(load(ed448)).rejects.toThrow(
      'unsupported private key type, must be RSA, ECDSA, or ED25519',
    );
  });

  it('refuses an EC key that gives its curve as explicit parameters, naming the openssl command that names it', async () => {
    const explicit = work.path('explicit-curve.pem');
    await openssl(['pkey', '-in', keys.sec1!, '-ec_param_enc', 'explicit', '-out', explicit]);
    chmodSync(explicit, 0o600);
    await expect(load(explicit)).rejects.toThrow(
      `file: ${explicit} gives its EC curve as explicit parameters, which Go and OpenSSL's verifier refuse (RFC 5480 section 2.1.1): ` +
        `rewrite it with the curve's name, openssl ec -in ${explicit} -param_enc named_curve -out named-key.pem`,
    );
    const named = work.path('named-again.pem');
    await openssl(['ec', '-in', explicit, '-param_enc', 'named_curve', '-out', named]);
    chmodSync(named, 0o600);
    expect((await load(named)).spki).toEqual((await load(keys.ec!)).spki);
  });

  it('refuses an unknown PEM type, a missing file and a non-PEM file with the Go prefix', async () => {
    const certificateOnly = work.write(
      'not-a-key.pem',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    await expect(load(certificateOnly)).rejects.toThrow(
      `file: reading key path ${certificateOnly}: unknown private key PEM file type: CERTIFICATE`,
    );
    await expect(load(work.path('missing.pem'))).rejects.toThrow(
      'file: reading key path --file-signer-key-path (the file it names): ENOENT',
    );
    const garbage = work.write('garbage.pem', 'hello');
    await expect(load(garbage)).rejects.toThrow('PEM decoding failed');
  });

  it('reads a BEGIN line that ends in blanks (a key pasted into YAML), as Go and OpenSSL do', async () => {
    const pem = readFileSync(keys.ec!, 'utf8').replace(/(-----BEGIN [A-Z ]+-----)\n/, '$1 \t\n');
    const padded = work.write('padded.pem', pem);
    chmodSync(padded, 0o600);
    await expect(load(padded)).resolves.toBeDefined();
  });

  it('warns when the key file is readable by group or others', async () => {
    const loose = work.path('loose.pem');
    writeFileSync(loose, readFileSync(keys.ec!));
    chmodSync(loose, 0o644);
    const { warnings } = await load(loose);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${loose} is readable by group or others (mode 0644)`);
  });

  it('refuses a key file larger than 1 MiB before parsing it (a PEM key is a few KiB)', async () => {
    const big = work.write('big.pem', readFileSync(keys.ec!, 'utf8') + '#'.repeat(1 << 20));
    chmodSync(big, 0o600);
    await expect(load(big)).rejects.toMatchObject({
      code: 'KEY_UNREADABLE',
      message: `file: reading key path ${big}: larger than 1048576 bytes, not a key file`,
    });
  });

  it('skips a BEGIN line without its END and a block whose END names another label, as Go', async () => {
    const ec = readFileSync(keys.ec!, 'utf8');
    const odd = work.write(
      'odd.pem',
      '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n' +
        '-----BEGIN CERTIFICATE-----\nnever ends\n' +
        ec,
    );
    chmodSync(odd, 0o600);
    const { signer } = await load(odd);
    expect(signer.algorithm.keyType).toBe('ec');
  });

  it('uses only the first PEM block, as Go does', async () => {
    const both = work.write(
      'both.pem',
      readFileSync(keys.ec!, 'utf8') + readFileSync(keys.rsa!, 'utf8'),
    );
    chmodSync(both, 0o600);
    const { signer } = await load(both);
    expect(signer.algorithm.keyType).toBe('ec');
  });
});
