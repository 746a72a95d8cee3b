import { parseRfc3339 } from '../rfc3339.js';
import { verifySignerInfo } from './cms-signer.js';
import { viewCertificate, type CertificateView } from './certificate-view.js';
import { VerificationError } from './errors.js';
import { parseTimestampResponse, type ParsedToken } from './parse-response.js';
import type { Timestamp } from './timestamp.js';
import { verifyParsedToken, type ArtifactInput, type VerifyOptions } from './verify-timestamp.js';

/**
 * Verification against the `timestampAuthorities` of a Sigstore trusted_root.json
 * (sigstore/protobuf-specs): the authority is the one whose leaf signed the token and whose
 * validFor window (inclusive) holds the token's genTime; its chain is the trust for the token.
 */

/** One timestampAuthorities entry, read. */
export interface TimestampAuthorityEntry {
  /** Leaf first; the last certificate is the trust anchor. */
  chain: CertificateView[];
  start: Date | undefined;
  end: Date | undefined;
  uri: string;
}

const fail = (message: string): never => {
  throw new VerificationError('malformed', `trusted root: ${message}`);
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A validFor time: RFC 3339 with `Z` or an offset, as protobuf's JSON writes a Timestamp. Not
 * Date's parser, which reads a time without a zone in the host's (TZ decided whether a token
 * verified) and takes "2020" or "Dec 1 2020".
 */
function readTime(value: unknown, where: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (!time)
    return fail(
      `${where} is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)`,
    );
  return time;
}

/** The timestamp authorities of a trusted_root.json's text. */
export function readTrustedRoot(text: string): TimestampAuthorityEntry[] {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!isObject(root)) return fail('not a JSON object');
  const authorities = root.timestampAuthorities ?? [];
  if (!Array.isArray(authorities)) return fail('timestampAuthorities is not a list');
  return authorities.map((entry: unknown, index) => {
    const where = `timestampAuthorities[${index}]`;
    if (!isObject(entry)) return fail(`${where} is not an object`);
    const certificates = isObject(entry.certChain) ? entry.certChain.certificates : undefined;
    if (!Array.isArray(certificates) || certificates.length === 0)
      return fail(`${where}.certChain has no certificates`);
    const chain = certificates.map((certificate: unknown, at) => {
      const raw = isObject(certificate) ? certificate.rawBytes : undefined;
      if (typeof raw !== 'string')
        return fail(`${where}.certChain.certificates[${at}]: no rawBytes`);
      try {
        return viewCertificate(Buffer.from(raw, 'base64'));
      } catch {
        return fail(`${where}.certChain.certificates[${at}] is not a certificate`);
      }
    });
    const validFor = isObject(entry.validFor) ? entry.validFor : {};
    return {
      chain,
      start: readTime(validFor.start, `${where}.validFor.start`),
      end: readTime(validFor.end, `${where}.validFor.end`),
      uri: typeof entry.uri === 'string' ? entry.uri : '',
    };
  });
}

const within = (entry: TimestampAuthorityEntry, time: Date): boolean =>
  (entry.start === undefined || entry.start <= time) &&
  (entry.end === undefined || time <= entry.end);

/** An authority whose leaf signed the token, with that leaf as verifySignerInfo returned it. */
interface SigningAuthority {
  entry: TimestampAuthorityEntry;
  signer: CertificateView;
}

/**
 * The authorities whose leaf signed the token. When none did, the reason of the last one whose
 * leaf the token's sid designates (its signature, key or signed attributes failed: more useful
 * than "none signed") is thrown, or "no authority signed" when the sid designates none.
 */
function signingAuthorities(
  token: ParsedToken,
  authorities: readonly TimestampAuthorityEntry[],
): SigningAuthority[] {
  const found: SigningAuthority[] = [];
  let reason: VerificationError | undefined;
  for (const entry of authorities) {
    try {
      found.push({ entry, signer: verifySignerInfo(token, [entry.chain[0]!]) });
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      if (error.code !== 'no-signer-certificate') reason = error;
    }
  }
  if (found.length > 0) return found;
  throw (
    reason ??
    new VerificationError(
      'no-signer-certificate',
      'no timestamp authority of the trusted root signed this token',
    )
  );
}

/**
 * Verifies a TimeStampResp against a trusted root: picks the authority by the token's signer and
 * genTime, then verifies as verifyTimestampResponse does with that authority's chain.
 */
export async function verifyWithTrustedRoot(
  tsr: Uint8Array,
  artifact: ArtifactInput,
  authorities: readonly TimestampAuthorityEntry[],
  options: Omit<VerifyOptions, 'roots' | 'intermediates' | 'tsaCertificate'> = {},
): Promise<Timestamp> {
  const token = parseTimestampResponse(tsr);
  const { genTime } = token.timestamp;
  const authority = signingAuthorities(token, authorities).find(({ entry }) =>
    within(entry, genTime),
  );
  if (!authority)
    throw new VerificationError(
      'chain',
      `the token's genTime ${genTime.toISOString()} is outside the validity window of its timestamp authority in the trusted root`,
    );
  const [leaf, ...rest] = authority.entry.chain;
  return verifyParsedToken(
    token,
    artifact,
    {
      ...options,
      roots: [authority.entry.chain.at(-1)!.der],
      intermediates: rest.slice(0, -1).map((certificate) => certificate.der),
      tsaCertificate: leaf!.der,
    },
    authority.signer,
  );
}
