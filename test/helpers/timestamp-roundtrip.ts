import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { contextTag, DerSequenceReader, oid, readExactly, Tag, tlv } from '../../src/asn1/der.js';
import { OID } from '../../src/asn1/oids.js';
import { openssl, tempDir } from './openssl.js';

/** What `openssl ts -verify` checks the token's imprint against. */
export type VerifyAgainst =
  | { data: string } // the artifact's file
  | { queryfile: string } // the request's file (its nonce and policy compared too)
  | { digest: string }; // the artifact's digest, hex

/**
 * `openssl ts -verify` of the reply file `reply` for `against`, its chain trusted to `trust.root`
 * (-CAfile) through `trust.untrusted` (-untrusted). Returns openssl's output; rejects with its
 * error when verification fails.
 */
export function opensslTsVerify(
  reply: string,
  against: VerifyAgainst,
  trust: { root: string; untrusted: string },
): Promise<string> {
  const [option, value] = Object.entries(against)[0] as [string, string];
  return openssl([
    'ts', '-verify', '-in', reply, `-${option}`, value, '-CAfile', trust.root,
    '-untrusted', trust.untrusted,
  ]); // prettier-ignore
}

/**
 * POSTs openssl's own query (SHA-256 digest of the file `data`, certReq) to the server at `url`
 * (HTTP, live), expecting 200; returns the query's and the reply's files, written in `dir`.
 */
export async function opensslTimestampOverHttp(
  url: string,
  dir: ReturnType<typeof tempDir>,
  data: string,
): Promise<{ query: string; reply: string }> {
  const query = dir.path('query.tsq');
  await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: readFileSync(query),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return { query, reply: dir.write('reply.tsr', Buffer.from(await response.arrayBuffer())) };
}

/**
 * Asks `app` for a token over openssl's own query (SHA-256 digest, certReq) and checks it with
 * `openssl ts -verify` against the chain's root. Returns openssl's output.
 *
 * OpenSSL 3.0 (Debian 12) cannot verify Ed25519 CMS signatures at all: its PKCS7 and CMS code
 * passes the digest to EdDSA ("invalid digest"; even `openssl cms -sign` with an Ed25519 key
 * fails). For Ed25519 leaves the same checks are made piecewise: openssl parses the reply and
 * compares the imprint, verifies the PureEdDSA signature over the signed attributes
 * (`pkeyutl -rawin`) and the leaf's chain (`verify -purpose timestampsign`); this helper checks
 * that messageDigest binds the TSTInfo and signingCertificateV2 names the leaf.
 */
export async function timestampAndVerify(
  app: FastifyInstance,
  chainPemPath: string,
): Promise<string> {
  const work = tempDir();
  try {
    const data = work.write('data.txt', `artifact ${Math.random()}`);
    const query = work.path('query.tsq');
    await openssl(['ts', '-query', '-data', data, '-sha256', '-cert', '-out', query]);
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/timestamp',
      headers: { 'content-type': 'application/timestamp-query' },
      payload: readFileSync(query),
    });
    if (response.statusCode !== 200)
      throw new Error(`HTTP ${response.statusCode}: ${response.body}`);
    const reply = work.write('reply.tsr', response.rawPayload);
    const pems =
      readFileSync(chainPemPath, 'utf8').match(
        /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g,
      ) ?? [];
    const root = work.write('root.pem', pems[pems.length - 1] ?? '');
    const untrusted = work.write('untrusted.pem', pems.slice(0, -1).join('\n'));
    const leaf = work.write('leaf.pem', pems[0] ?? '');
    const leafText = await openssl(['x509', '-in', leaf, '-noout', '-text']);
    if (!leafText.includes('ED25519')) {
      return await opensslTsVerify(reply, { queryfile: query }, { root, untrusted });
    }
    return await verifyEd25519Piecewise(work, { reply, query, root, untrusted, leaf });
  } finally {
    work.cleanup();
  }
}

async function verifyEd25519Piecewise(
  work: ReturnType<typeof tempDir>,
  files: { reply: string; query: string; root: string; untrusted: string; leaf: string },
): Promise<string> {
  const imprint = (text: string) => /Message data:\n([\s\S]*?)\n[A-Z]/.exec(text)?.[1]?.trim();
  const replyText = await openssl(['ts', '-reply', '-in', files.reply, '-text']);
  if (!replyText.includes('Status: Granted.')) throw new Error(`not granted:\n${replyText}`);
  const queryText = await openssl(['ts', '-query', '-in', files.query, '-text']);
  if (!imprint(replyText) || imprint(replyText) !== imprint(queryText))
    throw new Error('message imprint differs');

  const token = work.path('token.der');
  await openssl(['ts', '-reply', '-in', files.reply, '-token_out', '-out', token]);
  const { eContent, signedAttributes, signature } = signerInfoOf(readFileSync(token));
  const messageDigest = signedAttributes.get(OID.messageDigest);
  const expected = tlv(Tag.OCTET_STRING, createHash('sha512').update(eContent).digest());
  if (!messageDigest?.equals(expected)) throw new Error('messageDigest is not SHA-512(TSTInfo)');

  // ESS signingCertificateV2 (RFC 5816): certHash = SHA-256 of the leaf (hashAlgorithm omitted).
  const signingCertificate = signedAttributes.get(OID.signingCertificateV2);
  const certs = new DerSequenceReader(
    readExactly(signingCertificate ?? Buffer.alloc(0), Tag.SEQUENCE).value,
  );
  const essCertId = new DerSequenceReader(
    new DerSequenceReader(certs.next(Tag.SEQUENCE).value).next(Tag.SEQUENCE).value,
  );
  const leafDer = await openssl([
    'x509',
    '-in',
    files.leaf,
    '-outform',
    'DER',
    '-out',
    work.path('leaf.der'),
  ]).then(() => readFileSync(work.path('leaf.der')));
  if (
    !Buffer.from(essCertId.next(Tag.OCTET_STRING).value).equals(
      createHash('sha256').update(leafDer).digest(),
    )
  ) {
    throw new Error('signingCertificateV2 does not name the leaf');
  }

  const attributesFile = work.write(
    'signed-attributes.der',
    signedAttributesSet(readFileSync(token)),
  );
  const signatureFile = work.write('signature.bin', signature);
  const publicKey = work.path('leaf-public.pem');
  await openssl(['x509', '-in', files.leaf, '-noout', '-pubkey', '-out', publicKey]);
  const signatureCheck = await openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    publicKey,
    '-rawin',
    '-in',
    attributesFile,
    '-sigfile',
    signatureFile,
  ]);
  const chainCheck = await openssl([
    'verify',
    '-CAfile',
    files.root,
    '-untrusted',
    files.untrusted,
    '-purpose',
    'timestampsign',
    files.leaf,
  ]);
  return `${signatureCheck}${chainCheck}Verification: OK (Ed25519, piecewise)\n`;
}

/** ContentInfo -> SignedData -> first SignerInfo, read with the strict DER reader. */
function signerInfoParts(token: Buffer) {
  const contentInfo = new DerSequenceReader(readExactly(token, Tag.SEQUENCE).value);
  contentInfo.next(Tag.OID);
  const signedData = new DerSequenceReader(
    readExactly(contentInfo.next(contextTag(0, true)).value, Tag.SEQUENCE).value,
  );
  signedData.next(Tag.INTEGER);
  signedData.next(Tag.SET);
  const encapContentInfo = new DerSequenceReader(signedData.next(Tag.SEQUENCE).value);
  encapContentInfo.next(Tag.OID);
  const eContent = readExactly(
    encapContentInfo.next(contextTag(0, true)).value,
    Tag.OCTET_STRING,
  ).value;
  signedData.optional(contextTag(0, true));
  signedData.optional(contextTag(1, true));
  const signerInfos = new DerSequenceReader(signedData.next(Tag.SET).value);
  const signerInfo = new DerSequenceReader(signerInfos.next(Tag.SEQUENCE).value);
  signerInfo.next(Tag.INTEGER);
  signerInfo.next(Tag.SEQUENCE);
  signerInfo.next(Tag.SEQUENCE);
  const attributes = signerInfo.next(contextTag(0, true));
  signerInfo.next(Tag.SEQUENCE);
  const signature = signerInfo.next(Tag.OCTET_STRING).value;
  return {
    eContent: Buffer.from(eContent),
    attributes: attributes.value,
    signature: Buffer.from(signature),
  };
}

function signerInfoOf(token: Buffer) {
  const { eContent, attributes, signature } = signerInfoParts(token);
  const signedAttributes = new Map<string, Buffer>();
  const reader = new DerSequenceReader(attributes);
  while (!reader.done) {
    const attribute = new DerSequenceReader(reader.next(Tag.SEQUENCE).value);
    const type = attribute.next(Tag.OID).bytes;
    const values = new DerSequenceReader(attribute.next(Tag.SET).value);
    for (const known of [
      OID.messageDigest,
      OID.contentType,
      OID.signingTime,
      OID.signingCertificateV2,
    ]) {
      if (Buffer.from(type).equals(oid(known)))
        signedAttributes.set(known, Buffer.from(values.next().bytes));
    }
  }
  return { eContent, signedAttributes, signature };
}

/** The signed attributes as signed: re-tagged from [0] IMPLICIT to SET OF (RFC 5652 5.4). */
function signedAttributesSet(token: Buffer): Buffer {
  return tlv(Tag.SET, signerInfoParts(token).attributes);
}
