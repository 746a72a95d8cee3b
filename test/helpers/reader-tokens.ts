import { readFileSync } from 'node:fs';
import { parseTimestampResponse } from '../../src/verify/parse-response.js';
import { openssl, type tempDir } from './openssl.js';
import { OpensslPki } from './openssl-pki.js';
import { issueToken, makePki } from './pki.js';

/** A token (ContentInfo) of each shape the token reader test holds the two readers to. */
export interface ReaderToken {
  name: string;
  der: Buffer;
}

/** The token of a granted TimeStampResp: its second element. */
const tokenOf = (response: Buffer): Buffer => parseTimestampResponse(response).timestamp.tokenDer;

/**
 * Fresh tokens: ours (certReq and nonce; no certificate; the chain embedded) and one of `openssl
 * ts -reply` (accuracy with millis, ordering, a tsa name, ESSCertID v1 with SHA-1, a chain). New
 * keys, serials and times each call: test/fixtures/token-reader/ keeps one set of them.
 */
export async function makeReaderTokens(work: ReturnType<typeof tempDir>): Promise<ReaderToken[]> {
  const artifact = Buffer.from('read twice');
  const pki = await makePki();
  const tokens: ReaderToken[] = [
    {
      name: 'ours, certReq and nonce',
      der: tokenOf(await issueToken(pki, { artifact, nonce: 7n })),
    },
    {
      name: 'ours, no certificate',
      der: tokenOf(await issueToken(pki, { artifact, certReq: false })),
    },
    {
      name: 'ours, the chain embedded',
      der: tokenOf(
        await issueToken(pki, { artifact, embedded: [pki.leaf.der, pki.intermediate.der] }),
      ),
    },
  ];
  const ossl = new OpensslPki(work.dir);
  await ossl.standardChain();
  work.write('serial', '01\n');
  work.write(
    'tsa.cnf',
    [
      '[ tsa ]',
      'default_tsa = tsa_config',
      '[ tsa_config ]',
      `dir = ${work.dir}`,
      'serial = $dir/serial',
      'signer_cert = $dir/leaf.pem',
      'certs = $dir/intermediate.pem',
      'signer_key = $dir/leaf.key',
      'signer_digest = sha256',
      'default_policy = 1.3.6.1.4.1.57264.2',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1, millisecs:500',
      'ordering = yes',
      'tsa_name = yes',
      'ess_cert_id_chain = yes',
      'ess_cert_id_alg = sha1',
      '',
    ].join('\n'),
  );
  await openssl(['ts', '-query', '-data', work.write('artifact', artifact), '-sha256', '-cert',
    '-out', work.path('request.tsq')]); // prettier-ignore
  await openssl(['ts', '-reply', '-config', work.path('tsa.cnf'), '-queryfile',
    work.path('request.tsq'), '-out', work.path('response.tsr')]); // prettier-ignore
  tokens.push({ name: 'openssl ts -reply', der: tokenOf(readFileSync(work.path('response.tsr'))) });
  return tokens;
}
