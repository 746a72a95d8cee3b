/**
 * Part 1: in-process issuance (parse, check, encode, sign, and with --verify-tokens the check of
 * the signature) against raw crypto.sign on the same key, alternated run by run so every variant
 * sees the same machine noise; medians over the runs.
 *   npm run bench -- in-process [--keys p256,p384] [--seconds 1] [--runs 5] [--concurrency 1]
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
  /** Tokens per second with --verify-tokens=false and with the default (verified). */
  issuance: number;
  verifiedIssuance: number;
  rawSign: number;
  ratio: number;
  verifiedRatio: number;
}

/** A real request of the Go load test's shape plus certReq: SHA-256 imprint, 64-bit nonce. */
const REQUEST = encodeRequest({
  digest: createHash('sha256').update('hello').digest(),
  nonce: 0x45ea49f1aac25d41n,
  certReq: true,
});

export async function benchInProcess(
  options: { keys?: KeyKind[]; seconds?: number; runs?: number; concurrency?: number } = {},
): Promise<InProcessResult[]> {
  const seconds = options.seconds ?? 1;
  const runs = options.runs ?? 5;
  const concurrency = options.concurrency ?? 1;
  const results: InProcessResult[] = [];
  for (const key of options.keys ?? [...KEY_KINDS]) {
    const { signer, chain, privateKey } = await createBenchSigner(key);
    const authority = (verifySignatures: boolean) =>
      new TimestampAuthority({
        profile: {
          signer,
          chain: chain.map(parseCertificate),
          defaultPolicy: oid(OID.sigstoreTsaPolicy),
          accuracySeconds: 1,
          includeChain: false,
          verifySignatures,
        },
        policy: {
          acceptedPolicies: new Set([toHex(oid(OID.sigstoreTsaPolicy))]),
          allowCustomExtensions: false,
        },
      });
    const unverified = authority(false);
    const verified = authority(true);
    for (const tsa of [unverified, verified]) {
      if ((await tsa.issue(REQUEST, 'der')).status !== 'granted')
        throw new Error('bench request refused');
    }
    const data = Buffer.alloc(300, 7);
    const digest = key === 'ed25519' ? null : HASH_FOR[key];
    const samples = { issuance: [] as number[], verified: [] as number[], raw: [] as number[] };
    for (let run = 0; run < runs; run++) {
      samples.issuance.push(
        await rate(seconds, () => unverified.issue(REQUEST, 'der'), concurrency),
      );
      samples.verified.push(await rate(seconds, () => verified.issue(REQUEST, 'der'), concurrency));
      samples.raw.push(await rate(seconds, () => sign(digest, data, privateKey)));
    }
    const ratio = (values: number[]) =>
      median(values.map((v, i) => v / (samples.raw[i] as number)));
    const result: InProcessResult = {
      key,
      issuance: median(samples.issuance),
      verifiedIssuance: median(samples.verified),
      rawSign: median(samples.raw),
      ratio: ratio(samples.issuance),
      verifiedRatio: ratio(samples.verified),
    };
    results.push(result);
    console.log(
      `in-process ${key.padEnd(8)} c=${concurrency}  raw crypto.sign ${format(result.rawSign).padStart(7)}/s` +
        `  issuance ${format(result.issuance).padStart(7)}/s (ratio ${format(result.ratio, 2)})` +
        `  with --verify-tokens ${format(result.verifiedIssuance).padStart(7)}/s (ratio ${format(result.verifiedRatio, 2)})`,
    );
  }
  return results;
}
