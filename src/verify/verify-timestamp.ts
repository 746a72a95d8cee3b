import { createHash, X509Certificate } from 'node:crypto';
import { requireAcceptedHash } from './algorithm-policy.js';
import { buildChains, type ChainCache } from './chain.js';
import { verifySignerInfo } from './cms-signer.js';
import { subjectText, viewCertificate, type CertificateView } from './certificate-view.js';
import { VerificationError } from './errors.js';
import {
  checkGenTimeInPrivateKeyUsagePeriod,
  checkGenTimeInValidity,
  checkTsaCertificate,
} from './leaf-checks.js';
import { parseTimestampResponse, type ParsedToken } from './parse-response.js';
import type { Timestamp } from './timestamp.js';

/** A certificate as DER bytes or a Node X509Certificate. */
export type CertificateInput = Uint8Array | X509Certificate;

/** The artifact: its bytes, a stream of them (hashed as it flows), or its digest already computed. */
export type ArtifactInput =
  Uint8Array | AsyncIterable<Uint8Array | string> | { digest: Uint8Array };

export interface VerifyOptions {
  /** Trust anchors. At least one is required. */
  roots: readonly CertificateInput[];
  /** Untrusted certificates that may complete the path (the token's own are added). */
  intermediates?: readonly CertificateInput[];
  /** The expected TSA certificate; required when the token embeds none. */
  tsaCertificate?: CertificateInput;
  /** The nonce the request carried; the token must echo it. */
  nonce?: bigint;
  /** The expected TSA policy OID. */
  oid?: string;
  /** The expected subject common name of the TSA certificate. */
  commonName?: string;
  /** When the chain must be valid; the token's genTime by default (RFC 3161 section 4.3). */
  currentTime?: Date;
}

function toView(input: CertificateInput, what: string): CertificateView {
  try {
    return viewCertificate(input instanceof X509Certificate ? input.raw : input);
  } catch (error) {
    throw new VerificationError(
      'invalid-certificate',
      `${what} is not a valid certificate: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/**
 * Verifies an RFC 3161 TimeStampResp against an artifact: the steps of Go's
 * verification.VerifyTimestampResponse with its security fixes, plus the ESS certificate hash,
 * the tsa name, the TSTInfo version, the contentType attribute and a granted status. Returns the
 * parsed timestamp; throws a VerificationError that names the problem.
 */
export async function verifyTimestampResponse(
  tsr: Uint8Array,
  artifact: ArtifactInput,
  options: VerifyOptions,
): Promise<Timestamp> {
  return verifyParsedToken(parseTimestampResponse(tsr), artifact, options);
}

/**
 * verifyTimestampResponse for a response already parsed. `knownSigner`: the certificate the caller
 * already found with verifySignerInfo (trusted-root.ts, among the authorities' leaves), so that the
 * signature is not checked twice; it must then be `options.tsaCertificate`. `chainCache`: paths
 * kept across calls that verify many tokens under the same trust (log-audit), see ChainCache.
 */
export async function verifyParsedToken(
  token: ParsedToken,
  artifact: ArtifactInput,
  options: VerifyOptions,
  knownSigner?: CertificateView,
  chainCache?: ChainCache,
): Promise<Timestamp> {
  const { timestamp } = token;

  requireAcceptedHash(timestamp.hashAlgorithm);

  const roots = options.roots.map((root) => toView(root, 'root certificate'));
  if (roots.length === 0) {
    throw new VerificationError(
      'no-roots',
      'no root certificates provided for verifying the certificate chain',
    );
  }
  const tsaCertificate = options.tsaCertificate
    ? toView(options.tsaCertificate, 'TSA certificate')
    : undefined;
  const embedded = timestamp.certificates;
  if (embedded.length === 0 && !tsaCertificate) {
    throw new VerificationError(
      'no-signer-certificate',
      'leaf certificate must be present in the TSR or as a verify option',
    );
  }

  // The provided TSA certificate also counts for tokens that embed only part of the chain.
  const candidates = tsaCertificate ? [...embedded, tsaCertificate] : embedded;
  const signer = knownSigner ?? verifySignerInfo(token, candidates);
  if (tsaCertificate && !tsaCertificate.der.equals(signer.der)) {
    throw new VerificationError(
      'certificate-mismatch',
      'certificate embedded in the TSR does not match the provided TSA certificate',
    );
  }

  const intermediates = [
    ...(options.intermediates ?? []).map((cert) => toView(cert, 'intermediate certificate')),
    ...embedded,
  ];
  const chainOptions = { intermediates, roots, at: options.currentTime ?? timestamp.genTime };
  const chains = chainCache
    ? chainCache.build(signer, chainOptions)
    : buildChains(signer, chainOptions);
  if (chains.chains.length === 0) {
    throw new VerificationError(
      'chain',
      `error while verifying signer certificate chain: ${chains.failure ?? 'no chain found'}`,
    );
  }
  // With currentTime the chain was checked then, not at genTime: the leaf must still cover genTime.
  checkGenTimeInValidity(signer, timestamp.genTime);
  // And its key must have been allowed to sign then (X.509 section 9.2.2.5).
  checkGenTimeInPrivateKeyUsagePeriod(signer, timestamp.genTime);

  if (options.nonce !== undefined) {
    if (timestamp.nonce === undefined) {
      throw new VerificationError(
        'nonce',
        `expected nonce ${options.nonce} but response does not contain a nonce`,
      );
    }
    if (timestamp.nonce !== options.nonce) {
      throw new VerificationError(
        'nonce',
        `incoming nonce ${options.nonce} does not match TSR nonce ${timestamp.nonce}`,
      );
    }
  }
  if (options.oid !== undefined && timestamp.policy !== options.oid) {
    throw new VerificationError(
      'policy',
      `OID content does not match: TSR policy ${timestamp.policy}, expected ${options.oid}`,
    );
  }

  checkTsaCertificate(signer, options.commonName);
  if (chains.timestampingChains.length === 0) {
    throw new VerificationError(
      'eku',
      'no verified certificate chain met EKU requirements: intermediate certificate does not allow Timestamping usage',
    );
  }
  checkTsaName(timestamp, signer);

  const digest = await digestArtifact(artifact, timestamp.hashAlgorithm);
  if (!digest.equals(timestamp.hashedMessage))
    throw new VerificationError('hash-mismatch', "hashed messages don't match");
  return timestamp;
}

/**
 * RFC 3161 section 2.4.2: when present, tsa "MUST correspond to one of the subject names included
 * in the certificate": the signer certificate's subject, or one of its subjectAltNames (as
 * OpenSSL's ts_check_signer_name compares them: the same kind and value).
 */
function checkTsaName(timestamp: Timestamp, signer: CertificateView): void {
  // The DER first: the tsa name's text is read only when it is needed.
  if (timestamp.tsaNameDer?.equals(signer.subjectDer)) return;
  if (timestamp.tsaName === undefined) return;
  const general = timestamp.tsaGeneralNameDer;
  if (general && signer.subjectAltNames.some((name) => name.equals(general))) return;
  throw new VerificationError(
    'tsa-name',
    `the TSTInfo tsa name "${timestamp.tsaName}" is neither the signer certificate subject "${subjectText(signer)}" nor one of its subjectAltNames`,
  );
}

async function digestArtifact(artifact: ArtifactInput, hash: string): Promise<Buffer> {
  if ('digest' in artifact) return Buffer.from(artifact.digest);
  const hasher = createHash(hash);
  if (artifact instanceof Uint8Array) return hasher.update(artifact).digest();
  for await (const chunk of artifact) hasher.update(chunk);
  return hasher.digest();
}
