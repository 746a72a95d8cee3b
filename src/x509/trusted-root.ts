import { CodedError } from '../errors.js';
import type { Certificate } from './certificate.js';
import { privateKeyUsagePeriod, type PrivateKeyUsagePeriod } from './private-key-usage-period.js';

/**
 * The `timestampAuthorities` of a Sigstore trusted_root.json (sigstore/protobuf-specs,
 * dev.sigstore.trustroot.v1.TrustedRoot): one CertificateAuthority per chain a profile has signed
 * with, so that clients can check a token's genTime against the window of its key.
 */

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

export class TrustedRootError extends CodedError<
  'CHAIN_ORDER' | 'RETIRED_OUT_OF_ORDER' | 'DUPLICATE_CHAIN' | 'INVALID_KEY_USAGE_PERIOD'
> {
  override name = 'TrustedRootError';
}

/** One chain of a profile: the current one, or a retired one with its retirement if known. */
export interface ProfileChain {
  /** Leaf first, root last. */
  chain: readonly Certificate[];
  /** For a previous chain: when its key stopped signing, if given explicitly. */
  retired?: Date;
  /** Where the chain came from, for errors. */
  source: string;
}

/** dev.sigstore.trustroot.v1.CertificateAuthority as proto3 JSON. */
export interface CertificateAuthorityJson {
  subject: { organization?: string; commonName?: string };
  /** Absent when the client named no host (HTTP/1.0 without Host). */
  uri?: string;
  certChain: { certificates: { rawBytes: string }[] };
  validFor: { start: string; end?: string };
}

export interface TrustedRootJson {
  mediaType: string;
  tlogs: [];
  certificateAuthorities: [];
  ctlogs: [];
  timestampAuthorities: CertificateAuthorityJson[];
}

/** A profile's chains and the windows in which each key signed. */
export interface AuthorityWindow {
  chain: readonly Certificate[];
  start: Date;
  end: Date;
}

const notBefore = (chain: readonly Certificate[]) => new Date(chain[0]!.x509.validFrom);
/** The leaf's public key as SPKI DER: one key, however many certificates it has. */
export const leafKey = (chain: readonly Certificate[]): Buffer =>
  chain[0]!.x509.publicKey.export({ type: 'spki', format: 'der' });
/** validFor may not outlast any certificate of the chain. */
const chainNotAfter = (chain: readonly Certificate[]) =>
  new Date(Math.min(...chain.map((certificate) => Date.parse(certificate.x509.validTo))));

const latest = (date: Date, other: Date | undefined) => (other && other > date ? other : date);
const earliest = (date: Date, other: Date | undefined) => (other && other < date ? other : date);

/** The leaf's privateKeyUsagePeriod (X.509 section 9.2.2.5), if it has one. */
function leafKeyUsagePeriod({ chain, source }: ProfileChain): PrivateKeyUsagePeriod | undefined {
  try {
    return privateKeyUsagePeriod(chain[0]!);
  } catch (error) {
    throw new TrustedRootError(
      'INVALID_KEY_USAGE_PERIOD',
      `chain ${source}: the TSA certificate's private key usage period cannot be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * The windows of one profile, oldest first. The current chain is the newest (by leaf notBefore),
 * and no two chains have one leaf certificate. A previous chain may hold the current key under an
 * older certificate (a certificate renewed for the same key): tokens name their certificate
 * (ESSCertIDv2), and those of the old one verify in its window.
 * A window starts at its leaf's notBefore and ends at the key's retirement: the explicit `retired`
 * time, else the next chain's leaf notBefore; never after its chain's validity, with which the
 * current one ends. A leaf's privateKeyUsagePeriod narrows its window to that period. `warn` is told of a `retired` later than that validity (a likely typo: no
 * token of that key verifies past it).
 */
export function authorityWindows(
  current: ProfileChain,
  previous: readonly ProfileChain[],
  warn: (message: string) => void = () => {},
): AuthorityWindow[] {
  const older = [...previous].sort((a, b) => +notBefore(a.chain) - +notBefore(b.chain));
  const ordered = [...older, current];
  const sources = new Map<string, string>();
  for (const { chain, source } of ordered) {
    // One certificate twice: the window of the first would end where the second begins.
    const leaf = chain[0]!.der.toString('hex');
    const first = sources.get(leaf);
    if (first !== undefined)
      throw new TrustedRootError(
        'DUPLICATE_CHAIN',
        `chains ${first} and ${source} have one leaf certificate: list each chain once, the current one not among the previous`,
      );
    sources.set(leaf, source);
  }
  for (const old of older) {
    if (notBefore(old.chain) > notBefore(current.chain))
      throw new TrustedRootError(
        'CHAIN_ORDER',
        `previous chain ${old.source} is newer than the current chain ${current.source} (leaf notBefore)`,
      );
  }
  return ordered.map((entry, index) => {
    const keyUsage = leafKeyUsagePeriod(entry);
    const start = latest(notBefore(entry.chain), keyUsage?.notBefore);
    const next = ordered[index + 1];
    const expiry = chainNotAfter(entry.chain);
    if (next !== undefined && entry.retired && entry.retired > expiry)
      warn(
        `previous chain ${entry.source}: retired ${rfc3339(entry.retired)} is after the chain ` +
          `expires (${rfc3339(expiry)}); its trusted-root window ends at the expiry`,
      );
    const retirement = next === undefined ? expiry : (entry.retired ?? notBefore(next.chain));
    // The key signs no token past its private key usage period either.
    const end = earliest(retirement < expiry ? retirement : expiry, keyUsage?.notAfter);
    if (end < start)
      throw new TrustedRootError(
        'RETIRED_OUT_OF_ORDER',
        `chain ${entry.source} is retired (${end.toISOString()}) before its leaf is valid (${start.toISOString()})`,
      );
    return { chain: entry.chain, start, end };
  });
}

/** Organization and common name of a certificate's subject (Node's one-attribute-a-line text). */
function distinguishedName(certificate: Certificate): CertificateAuthorityJson['subject'] {
  const attributes = new Map(
    certificate.x509.subject.split('\n').map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)] as const;
    }),
  );
  const subject: CertificateAuthorityJson['subject'] = {};
  const organization = attributes.get('O');
  const commonName = attributes.get('CN');
  if (organization) subject.organization = organization;
  if (commonName) subject.commonName = commonName;
  return subject;
}

/**
 * RFC 3339 in UTC: whole seconds as Sigstore's own trusted roots write them, and a fraction where
 * there is one (a `retired:` time, a privateKeyUsagePeriod), which cut would move the window.
 */
const rfc3339 = (date: Date) => date.toISOString().replace(/\.000Z$/, 'Z');

/** The CertificateAuthority entry of one window; `uri` is the profile's timestamp URL, if known. */
export function certificateAuthorityJson(
  window: AuthorityWindow,
  uri: string | undefined,
): CertificateAuthorityJson {
  return {
    // The trust anchor's name (the root is last), as Sigstore's entries name the TSA's root.
    subject: distinguishedName(window.chain.at(-1)!),
    ...(uri === undefined ? {} : { uri }),
    certChain: {
      certificates: window.chain.map((certificate) => ({
        rawBytes: certificate.der.toString('base64'),
      })),
    },
    validFor: { start: rfc3339(window.start), end: rfc3339(window.end) },
  };
}

/** A trusted root holding only timestamp authorities, ordered by validFor start (oldest first). */
export function trustedRootJson(
  entries: readonly { window: AuthorityWindow; uri: string | undefined }[],
): TrustedRootJson {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [...entries]
      .sort((a, b) => +a.window.start - +b.window.start)
      .map(({ window, uri }) => certificateAuthorityJson(window, uri)),
  };
}
