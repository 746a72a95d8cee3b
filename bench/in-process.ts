/**
 * Part 1: in-process issuance (parse, check, encode, sign, and with --verify-tokens the check of
 * the signature) against raw crypto.sign on the same key, alternated run by run so every variant
 * sees the same machine noise; medians over the runs, after one warm-up run of each that is not
 * counted.
 *   npm run bench -- in-process [--keys p256,p384] [--seconds 1] [--runs 5] [--concurrency 1]
 *     [--against ../other]
 * --against alternates the same issuance by another checkout's source (its
 * test/helpers/authority.ts and src/, loaded through tsx) in the same process, on the same key and
 * through that checkout's own signer (its src/signers/local-key.ts LocalKeySigner).
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Signer } from '../src/crypto/signer.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { createBenchSigner, HASH_FOR, KEY_KINDS, type KeyKind } from './keys.js';
import { format, median, rates } from './stats.js';
import { defaultAuthority } from '../test/helpers/authority.js';

export interface InProcessResult {
  key: KeyKind;
  /** Tokens per second without and with the check of each signature (--verify-tokens=true). */
  issuance: number;
  verifiedIssuance: number;
  rawSign: number;
  ratio: number;
  verifiedRatio: number;
  /** The same ratios per second of CPU time (robust on a shared machine). */
  cpuRatio: number;
  verifiedCpuRatio: number;
  /** With --against: the other checkout's issuance / raw signing. */
  againstRatio?: number;
}

type Issue = (request: Uint8Array, format: 'der') => Promise<{ status: string }>;

/**
 * The other checkout's default authority on its own LocalKeySigner (src/signers/local-key.ts) of
 * the same key, with the same chain, without the self-check: a change to the signer is compared
 * too. Fails when that checkout has no such module or class.
 */
async function againstIssue(
  dir: string,
  key: KeyKind,
  privateKey: KeyObject,
  chain: Buffer[],
): Promise<Issue> {
  const root = pathToFileURL(resolve(dir)).href;
  const signerModule = join(resolve(dir), 'src', 'signers', 'local-key.ts');
  if (!existsSync(signerModule))
    throw new Error(
      `in-process --against: ${signerModule} is missing: the other checkout's own local-key signer cannot be compared`,
    );
  const { LocalKeySigner } = (await import(`${root}/src/signers/local-key.ts`)) as {
    LocalKeySigner?: new (id: string, privateKey: KeyObject, hash: string) => Signer;
  };
  if (typeof LocalKeySigner !== 'function')
    throw new Error(`in-process --against: ${signerModule} exports no LocalKeySigner class`);
  const signer = new LocalKeySigner(`bench-${key}`, privateKey, HASH_FOR[key]);
  const helpers = (await import(`${root}/test/helpers/authority.ts`)) as {
    defaultAuthority: (s: Signer, c: unknown[], o: object) => { issue: Issue };
  };
  const x509 = (await import(`${root}/src/x509/certificate.ts`)) as {
    parseCertificate: (der: Buffer) => unknown;
  };
  const authority = helpers.defaultAuthority(signer, chain.map(x509.parseCertificate), {
    verifySignatures: false,
  });
  return (request, format) => authority.issue(request, format);
}

/** A real request of the Go load test's shape plus certReq: SHA-256 imprint, 64-bit nonce. */
const REQUEST = encodeRequest({
  digest: createHash('sha256').update('hello').digest(),
  nonce: 0x45ea49f1aac25d41n,
  certReq: true,
});

export async function benchInProcess(
  options: {
    keys?: KeyKind[];
    seconds?: number;
    runs?: number;
    concurrency?: number;
    against?: string;
  } = {},
): Promise<InProcessResult[]> {
  const seconds = options.seconds ?? 1;
  const runs = options.runs ?? 5;
  const concurrency = options.concurrency ?? 1;
  // With no counted run the discarded warm-up run would be reported as the result.
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`in-process: runs must be a whole number of at least 1, not ${runs}`);
  const results: InProcessResult[] = [];
  for (const key of options.keys ?? [...KEY_KINDS]) {
    const { signer, chain, privateKey } = await createBenchSigner(key);
    const authority = (verifySignatures: boolean) =>
      defaultAuthority(signer, chain.map(parseCertificate), { verifySignatures });
    const unverified = authority(false);
    const verified = authority(true);
    for (const tsa of [unverified, verified]) {
      if ((await tsa.issue(REQUEST, 'der')).status !== 'granted')
        throw new Error('bench request refused');
    }
    const against = options.against
      ? await againstIssue(options.against, key, privateKey, chain)
      : undefined;
    if (against && (await against(REQUEST, 'der')).status !== 'granted')
      throw new Error('bench request refused by --against');
    const data = Buffer.alloc(300, 7);
    const digest = key === 'ed25519' ? null : HASH_FOR[key];
    type Sample = Awaited<ReturnType<typeof rates>>;
    const samples = {
      issuance: [] as Sample[],
      verified: [] as Sample[],
      raw: [] as Sample[],
      against: [] as Sample[],
    };
    // One more run than counted: the first is a warm-up (JIT, caches, pools) and is discarded,
    // being consistently slower (0.68-0.75 against 0.85 for P-256).
    for (let run = -1; run < runs; run++) {
      if (run === 0) for (const list of Object.values(samples)) list.length = 0;
      samples.issuance.push(
        await rates(seconds, () => unverified.issue(REQUEST, 'der'), concurrency),
      );
      samples.verified.push(
        await rates(seconds, () => verified.issue(REQUEST, 'der'), concurrency),
      );
      samples.raw.push(await rates(seconds, () => sign(digest, data, privateKey)));
      if (against)
        samples.against.push(await rates(seconds, () => against(REQUEST, 'der'), concurrency));
    }
    const ratio = (values: Sample[], of: keyof Sample = 'perSecond') =>
      median(values.map((v, i) => v[of] / (samples.raw[i] as Sample)[of]));
    const result: InProcessResult = {
      key,
      issuance: median(samples.issuance.map((s) => s.perSecond)),
      verifiedIssuance: median(samples.verified.map((s) => s.perSecond)),
      rawSign: median(samples.raw.map((s) => s.perSecond)),
      ratio: ratio(samples.issuance),
      verifiedRatio: ratio(samples.verified),
      cpuRatio: ratio(samples.issuance, 'perCpuSecond'),
      verifiedCpuRatio: ratio(samples.verified, 'perCpuSecond'),
      ...(against ? { againstRatio: ratio(samples.against) } : {}),
    };
    results.push(result);
    console.log(
      `in-process ${key.padEnd(8)} c=${concurrency}  raw crypto.sign ${format(result.rawSign).padStart(7)}/s` +
        `  issuance ${format(result.issuance).padStart(7)}/s (ratio ${format(result.ratio, 2)})` +
        `  with --verify-tokens ${format(result.verifiedIssuance).padStart(7)}/s (ratio ${format(result.verifiedRatio, 2)})` +
        `  per CPU second: ratio ${format(result.cpuRatio, 2)}, verified ${format(result.verifiedCpuRatio, 2)}` +
        `  (medians of ${runs} runs after 1 discarded warm-up run)` +
        (result.againstRatio === undefined
          ? ''
          : `  --against ${options.against}: ratio ${format(result.againstRatio, 2)}`),
    );
  }
  return results;
}
