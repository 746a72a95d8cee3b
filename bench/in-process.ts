/**
 * Part 1: in-process issuance (parse, check, encode, sign) against raw crypto.sign on the same key,
 * alternated run by run so both see the same machine noise; median over the runs.
 *   npm run bench -- in-process [--keys p256,p384] [--seconds 1] [--runs 5]
 */
import { createHash, sign } from 'node:crypto';
import { oid, toHex } from '../src/asn1/der.js';
import { OID } from '../src/asn1/oids.js';
import { TimestampAuthority } from '../src/tsp/authority.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { createBenchSigner, HASH_FOR, KEY_KINDS, type KeyKind } from './keys.js';
import { format, median, rate } from './stats.js';

export interface InProcessResult {
  key: KeyKind;
  issuance: number;
  rawSign: number;
  ratio: number;
}

export async function benchInProcess(
  options: { keys?: KeyKind[]; seconds?: number; runs?: number; concurrency?: number } = {},
): Promise<InProcessResult[]> {
  const keys = options.keys ?? [...KEY_KINDS];
  const seconds = options.seconds ?? 1;
  const runs = options.runs ?? 5;
  const concurrency = options.concurrency ?? 1;
  const results: InProcessResult[] = [];
  // A real 69-byte-class request: SHA-256 imprint, 64-bit nonce, certReq.
  const request = encodeRequest({
    digest: createHash('sha256').update('hello').digest(),
    nonce: 0x45ea49f1aac25d41n,
    certReq: true,
  });
  for (const key of keys) {
    const { signer, chain, privateKey } = await createBenchSigner(key);
    const authority = new TimestampAuthority({
      profile: {
        signer,
        chain: chain.map(parseCertificate),
        defaultPolicy: oid(OID.sigstoreTsaPolicy),
        accuracySeconds: 1,
        includeChain: false,
      },
      policy: {
        acceptedPolicies: new Set([toHex(oid(OID.sigstoreTsaPolicy))]),
        allowCustomExtensions: false,
      },
    });
    const outcome = await authority.issue(request, 'der');
    if (!outcome.granted) throw new Error(`bench request refused: ${outcome.message}`);
    const data = Buffer.alloc(300, 7);
    const digest = key === 'ed25519' ? null : HASH_FOR[key];
    const issuance: number[] = [];
    const rawSign: number[] = [];
    for (let run = 0; run < runs; run++) {
      issuance.push(await rate(seconds, () => authority.issue(request, 'der'), concurrency));
      rawSign.push(await rate(seconds, () => sign(digest, data, privateKey)));
    }
    const result = {
      key,
      issuance: median(issuance),
      rawSign: median(rawSign),
      ratio: median(issuance.map((v, i) => v / (rawSign[i] as number))),
    };
    results.push(result);
    console.log(
      `in-process ${key.padEnd(8)} c=${concurrency} issuance ${format(result.issuance).padStart(7)} tokens/s   raw crypto.sign ${format(result.rawSign).padStart(7)} sig/s   ratio ${format(result.ratio, 2)}`,
    );
  }
  return results;
}
