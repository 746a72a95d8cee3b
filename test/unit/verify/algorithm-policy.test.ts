import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NULL, oid, sequence, set } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import type { Signer } from '../../../src/crypto/signer.js';
import { LocalKeySigner } from '../../../src/signers/local-key.js';
import { KeyUsage } from '../../../src/x509/certificate-builder.js';
import { decodeCertificatesPem } from '../../helpers/pem.js';
import {
  VerificationError,
  verifyTimestampResponse,
  type VerificationErrorCode,
} from '../../../src/index.js';
import { acceptedRequest, encoderFor, issue, makePki, type Pki } from '../../helpers/pki.js';
import { openssl, tempDir } from '../../helpers/openssl.js';

const artifact = Buffer.from('algorithm policy\n');
const DAY = 86_400_000;

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: VerificationErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return { code: (error as VerificationError).code, message: (error as Error).message };
  }
  throw new Error('verification unexpectedly succeeded');
}

/**
 * Tokens whose algorithm labels lie (made with the repo's encoder and a signer whose
 * AlgorithmIdentifier or digest is swapped): the key type and the digest must fit the OID.
 */
describe('SignerInfo signature algorithm and digest (F1, F3)', () => {
  let pki: Pki;
  let rsaLeaf: { signer: LocalKeySigner; der: Buffer };

  beforeAll(async () => {
    pki = await makePki();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = new LocalKeySigner('rsa leaf', privateKey, 'sha256');
    const der = await issue(
      signer,
      {
        subject: { organization: 'test', commonName: 'RSA TSA' },
        notBefore: new Date(Date.now() - 30 * DAY),
        notAfter: new Date(Date.now() + 365 * DAY),
        publicKey: signer.publicKey,
        keyUsage: [KeyUsage.digitalSignature],
        extendedKeyUsage: { purposes: [OID.timeStamping], critical: true },
      },
      pki.intermediate,
    );
    rsaLeaf = { signer, der };
  });

  /** `signer` with another AlgorithmIdentifier. */
  function relabelled(signer: Signer, identifier: Buffer): Signer {
    const fake = Object.create(signer) as Signer;
    Object.defineProperty(fake, 'algorithm', { value: { ...signer.algorithm, identifier } });
    return fake;
  }

  /** A token by `signer`, its signature made by `signWith` when given (the encoder's own check skipped). */
  async function token(
    signer: Signer,
    leafDer: Buffer,
    signWith?: (data: Uint8Array) => Uint8Array,
  ): Promise<Buffer> {
    const encoder = encoderFor(signer, [leafDer], false);
    const genTime = encoder.genTimeAt(Date.now());
    const fields = {
      request: acceptedRequest({ artifact }),
      serialNumber: Buffer.from('01', 'hex'),
      genTime,
    };
    if (!signWith) return encoder.encode(fields);
    const tstInfo = encoder.encodeTstInfo(fields);
    const attributes = encoder.encodeSignedAttributes(tstInfo, genTime);
    return encoder.assemble(tstInfo, attributes, signWith(set(...attributes)), true);
  }

  const verify = (tsr: Buffer) =>
    verifyTimestampResponse(tsr, artifact, {
      roots: [pki.root.der],
      intermediates: [pki.intermediate.der],
    });

  it('an honest RSA and an honest ECDSA token verify', async () => {
    await expect(verify(await token(rsaLeaf.signer, rsaLeaf.der))).resolves.toBeDefined();
    await expect(verify(await token(pki.leaf.signer, pki.leaf.der))).resolves.toBeDefined();
  });

  it.each([
    ['ecdsa-with-SHA256', sequence(oid(OID.ecdsaWithSHA256))],
    ['Ed25519', sequence(oid(OID.ed25519))],
  ])('an RSA signature relabelled %s is refused', async (_name, identifier) => {
    const tsr = await token(relabelled(rsaLeaf.signer, identifier), rsaLeaf.der);
    expect(await refusal(verify(tsr))).toEqual({
      code: 'signature',
      message: expect.stringMatching(/does not fit the signer certificate's key$/) as string,
    });
  });

  it('an ECDSA signature relabelled sha256WithRSAEncryption is refused', async () => {
    const identifier = sequence(oid(OID.sha256WithRSAEncryption), NULL);
    const tsr = await token(relabelled(pki.leaf.signer, identifier), pki.leaf.der);
    expect((await refusal(verify(tsr))).message).toMatch(
      /does not fit the signer certificate's key/,
    );
  });

  it('a signature made with SHA-1 (sha1WithRSAEncryption) is refused as weak-hash', async () => {
    const privateKey = (rsaLeaf.signer as unknown as { key: KeyObject }).key;
    const identifier = sequence(oid('1.2.840.113549.1.1.5'), NULL);
    const tsr = await token(relabelled(rsaLeaf.signer, identifier), rsaLeaf.der, (data) =>
      sign('sha1', data, privateKey),
    );
    expect(await refusal(verify(tsr))).toEqual({
      code: 'weak-hash',
      message:
        'weak hash algorithm SHA-1 in the SignerInfo signatureAlgorithm: must be SHA-256, SHA-384, or SHA-512',
    });
  });
});

/** Tokens made by `openssl ts -reply` over certificates made by openssl with chosen digests and keys. */
describe('certificate and signer algorithms of openssl-made tokens (F1, F2)', () => {
  const dir = tempDir();
  const p = dir.path;
  let query: string;

  const pem = (name: string) => decodeCertificatesPem(readFileSync(p(`${name}.pem`), 'utf8'))[0];

  async function key(name: string, spec: string): Promise<void> {
    const [algorithm, option] = spec.split(':') as [string, string | undefined];
    const args = ['genpkey', '-algorithm', algorithm, '-out', p(`${name}.key`)];
    if (algorithm === 'RSA') args.push('-pkeyopt', `rsa_keygen_bits:${option ?? '2048'}`);
    if (algorithm === 'EC') args.push('-pkeyopt', `ec_paramgen_curve:${option ?? 'P-256'}`);
    await openssl(args);
  }

  const EXT = {
    ca: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign',
    leaf: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping',
  };

  /** `<name>.pem` for `<name>.key`, signed by `issuer` (or itself) with digest `md`. */
  async function cert(name: string, ext: string, issuer?: string, md = 'sha256'): Promise<void> {
    writeFileSync(p(`${name}.ext`), `[v3]\n${ext}\n`);
    if (!issuer) {
      await openssl([
        'req', '-x509', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${name}`, `-${md}`,
        '-days', '3650', '-config', p(`${name}.ext`), '-extensions', 'v3', '-out', p(`${name}.pem`),
      ]); // prettier-ignore
      return;
    }
    await openssl(['req', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${name}`, '-out', p(`${name}.csr`)]); // prettier-ignore
    await openssl([
      'x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${issuer}.pem`), '-CAkey', p(`${issuer}.key`),
      '-set_serial', String(Date.now()), '-days', '365', `-${md}`, '-extfile', p(`${name}.ext`),
      '-extensions', 'v3', '-out', p(`${name}.pem`),
    ]); // prettier-ignore
  }

  /**
   * A token signed by `leaf`, its chain (`chain`, leaf excluded) embedded; `digest`: signer_digest;
   * `queryFile`: the request answered (the artifact's SHA-256 query by default).
   */
  async function reply(
    leaf: string,
    chain: string[],
    digest = 'sha256',
    queryFile = query,
  ): Promise<Buffer> {
    writeFileSync(
      p(`${leaf}-chain.pem`),
      chain.map((name) => readFileSync(p(`${name}.pem`))).join(''),
    );
    const out = p(`${leaf}-${digest}-${basename(queryFile)}.tsr`);
    await openssl([
      'ts', '-reply', '-config', p('ts.cnf'), '-queryfile', queryFile, '-signer', p(`${leaf}.pem`),
      '-inkey', p(`${leaf}.key`), '-chain', p(`${leaf}-chain.pem`), `-${digest}`, '-out', out,
    ]); // prettier-ignore
    return readFileSync(out);
  }

  /** `openssl ts -query` for the artifact with message imprint digest `md`. */
  async function queryWith(md: string): Promise<string> {
    const file = p(`q-${md}.tsq`);
    await openssl(['ts', '-query', '-data', p('artifact'), `-${md}`, '-cert', '-out', file]);
    return file;
  }

  const verify = (tsr: Buffer, root = 'root') =>
    verifyTimestampResponse(tsr, artifact, { roots: [pem(root) as Buffer] });

  beforeAll(async () => {
    writeFileSync(p('serial'), '01\n');
    writeFileSync(p('artifact'), artifact);
    writeFileSync(
      p('ts.cnf'),
      [
        '[ tsa ]',
        'default_tsa = tsa_config',
        '[ tsa_config ]',
        `serial = ${p('serial')}`,
        'signer_digest = sha256',
        'default_policy = 1.2.3.4.1',
        'digests = sha1, sha224, sha256, sha384, sha512',
        'accuracy = secs:1',
        'ess_cert_id_alg = sha256',
        '',
      ].join('\n'),
    );
    query = p('q.tsq');
    await openssl(['ts', '-query', '-data', p('artifact'), '-sha256', '-cert', '-out', query]);
    await key('root', 'RSA');
    await cert('root', EXT.ca);
    await key('sha1root', 'RSA');
    await cert('sha1root', EXT.ca, undefined, 'sha1');
    await key('ecroot', 'EC');
    await cert('ecroot', EXT.ca);
    await key('leaf', 'RSA');
    await cert('leaf', EXT.leaf, 'root');
  });
  afterAll(() => dir.cleanup());

  it('a SHA-256 token over SHA-256 certificates verifies', async () => {
    await expect(verify(await reply('leaf', ['root']))).resolves.toBeDefined();
  });

  it('a SignerInfo digest of SHA-1 is weak-hash and of SHA-224 unsupported-hash, as the imprint', async () => {
    expect(await refusal(verify(await reply('leaf', ['root'], 'sha1')))).toEqual({
      code: 'weak-hash',
      message:
        'weak hash algorithm SHA-1 in the SignerInfo digestAlgorithm: must be SHA-256, SHA-384, or SHA-512',
    });
    expect((await refusal(verify(await reply('leaf', ['root'], 'sha224')))).code).toBe(
      'unsupported-hash',
    );
  });

  // openssl grants both (the ts.cnf digests list them); the SignerInfo digest stays SHA-256.
  it.each([
    ['SHA-1', 'sha1', 'weak-hash', 'weak hash algorithm: must be SHA-256, SHA-384, or SHA-512'],
    ['SHA-224', 'sha224', 'unsupported-hash', 'unsupported hash algorithm'],
  ])('a message imprint of %s is refused', async (_name, md, code, message) => {
    const tsr = await reply('leaf', ['root'], 'sha256', await queryWith(md));
    expect(await refusal(verify(tsr))).toEqual({ code, message });
  });

  it.each([
    ['md5', 'root', 'MD5-RSA'],
    ['sha1', 'root', 'SHA1-RSA'],
    ['sha1', 'ecroot', 'ECDSA-SHA1'],
  ])('a leaf certificate signed with %s by %s is refused', async (md, root, name) => {
    const leaf = `${md}-${root}-leaf`;
    await key(leaf, 'RSA');
    await cert(leaf, EXT.leaf, root, md);
    const { code, message } = await refusal(verify(await reply(leaf, [root]), root));
    expect(code).toBe('chain');
    expect(message).toContain(`insecure algorithm ${name}`);
  });

  it('an intermediate signed with SHA-1 is refused (every link is held to it)', async () => {
    await key('sha1ca', 'RSA');
    await cert('sha1ca', EXT.ca, 'root', 'sha1');
    await key('below-sha1ca', 'RSA');
    await cert('below-sha1ca', EXT.leaf, 'sha1ca');
    const { code, message } = await refusal(verify(await reply('below-sha1ca', ['sha1ca'])));
    expect(code).toBe('chain');
    expect(message).toMatch(/"CN=sha1ca" by "CN=root": insecure algorithm SHA1-RSA/);
  });

  it("the root's own SHA-1 self-signature is not checked: the root is trusted as given", async () => {
    await key('under-sha1root', 'RSA');
    await cert('under-sha1root', EXT.leaf, 'sha1root');
    await expect(
      verify(await reply('under-sha1root', ['sha1root']), 'sha1root'),
    ).resolves.toBeDefined();
  });

  it.each([
    ['RSA:1024', /signer key is refused: RSA key of 1024 bits, fewer than 2048/],
    ['RSA:512', /signer key is refused: RSA key of 512 bits/],
    ['EC:secp256k1', /unsupported elliptic curve secp256k1/],
  ])('a TSA key %s is refused', async (spec, expected) => {
    const leaf = `leaf-${spec.replace(':', '-')}`;
    await key(leaf, spec);
    await cert(leaf, EXT.leaf, 'root');
    const { code, message } = await refusal(verify(await reply(leaf, ['root'])));
    expect(code).toBe('tsa-certificate');
    expect(message).toMatch(expected);
  });

  it('an RSA-1024 intermediate or root is refused', async () => {
    await key('weakca', 'RSA:1024');
    await cert('weakca', EXT.ca, 'root');
    await key('below-weakca', 'RSA');
    await cert('below-weakca', EXT.leaf, 'weakca');
    expect((await refusal(verify(await reply('below-weakca', ['weakca'])))).message).toMatch(
      /"CN=weakca" has a refused key: RSA key of 1024 bits/,
    );
    await key('weakroot', 'RSA:1024');
    await cert('weakroot', EXT.ca);
    await key('below-weakroot', 'RSA');
    await cert('below-weakroot', EXT.leaf, 'weakroot');
    expect(
      (await refusal(verify(await reply('below-weakroot', ['weakroot']), 'weakroot'))).message,
    ).toMatch(/"CN=weakroot" has a refused key: RSA key of 1024 bits/);
  });
});
