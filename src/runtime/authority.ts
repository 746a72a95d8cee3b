/**
 * One profile's TSA as the runtime assembles it: its signer (self-tested against the chain's leaf),
 * chain, policies and guards; serve.ts wires it into the listeners.
 */
import { randomBytes, verify } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { oid, toHex } from '../asn1/der.js';
import type { ServeConfig } from '../config/schema.js';
import { signerConfigFrom } from '../config/signer-config.js';
import { DEFAULT_PROFILE_NAME, type ProfileConfig } from '../config/profiles.js';
import { nodeSignatureArguments } from '../crypto/key-algorithms.js';
import type { Signer } from '../crypto/signer.js';
import { createSigner, type SignerDependencies } from '../signers/create-signer.js';
import { TimestampAuthority } from '../tsp/authority.js';
import { certificateValidityGuard } from '../tsp/certificate-validity-guard.js';
import { acceptedExtensionSet } from '../tsp/extension-policy.js';
import { TokenProfileError } from '../tsp/profile-error.js';
import type { IssuanceGuard } from '../tsp/guards.js';
import type { TimeSourceSnapshot } from '../tsp/time-source.js';
import { ChainRuleError, keyMismatch, validityOf, verifyCertChain } from '../x509/chain-rules.js';
import { tsaKeyWarnings } from '../x509/csbr.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { privateKeyUsagePeriod } from '../x509/private-key-usage-period.js';
import { encodePem } from '../x509/pem.js';
import { subjectLine } from '../x509/chain-end.js';
import { trackCertificateValidity } from '../server/certificate-validity-metric.js';
import { logBreakerChanges } from './breaker-log.js';
import { clockOptionsFrom } from './clock-monitor.js';
import { RuntimeError } from './runtime-error.js';

const EMPTY = new Uint8Array(0);
/** The earliest and latest instants a Date holds (ECMA-262 section 21.4.1.22). */
const UNBOUNDED_PAST = new Date(-8.64e15);
const UNBOUNDED_FUTURE = new Date(8.64e15);

/** The accuracy every token declares; the clock gate holds the clock to it. */
export const TOKEN_ACCURACY_SECONDS = 1;

/** Refuses to start with a leaf whose key is not the signer's, or a signer that cannot sign. */
export async function selfTest(signer: Signer, leaf: Certificate): Promise<void> {
  const spki = (key: typeof signer.publicKey) => key.export({ type: 'spki', format: 'der' });
  if (!spki(leaf.x509.publicKey).equals(spki(signer.publicKey))) {
    throw new ChainRuleError(
      'KEY_MISMATCH',
      keyMismatch(leaf.x509.publicKey, signer.publicKey, { signerSource: signer.id }),
    );
  }
  const probe = randomBytes(32);
  const signature = await signer.sign(probe);
  const [digest, key] = nodeSignatureArguments(signer.algorithm, signer.publicKey);
  if (!verify(digest, probe, key, signature)) {
    throw new RuntimeError(
      'SELF_TEST_FAILED',
      `signer ${signer.id} self-test failed: its signature does not verify`,
    );
  }
}

/**
 * Builds the TSA from the configuration (signer, chain, policy) without listening: the default
 * profile's, or the named `profile`'s (config file `profiles:`). Its guards, in the order checked:
 * the signer's availability, the chain's validity, then `guards` (the clock).
 */
export async function createAuthority(
  config: ServeConfig,
  logger: FastifyBaseLogger,
  signerDependencies: SignerDependencies = {},
  guards: readonly IssuanceGuard[] = [],
  profile?: ProfileConfig,
  timeSource?: () => TimeSourceSnapshot | undefined,
) {
  const signerConfig = profile?.signer ?? signerConfigFrom(config);
  const chainPath = profile ? profile.certificateChainPath : config.certificateChainPath;
  const named = profile ? `profile ${profile.name}: ` : '';
  const { signer, chain: chainDer } = await createSigner(signerConfig, {
    warn: (message) => logger.warn(`${named}${message}`),
    ...signerDependencies,
  });
  logBreakerChanges(signer, logger, named);
  // The signer may hold a client (KMS): a chain or self-test that refuses it must release it.
  try {
    verifyCertChain(chainDer, signer.publicKey, {
      enforceIntermediateEku: config.enforceIntermediateEku,
      chainSource: `${named}chain ${chainPath || '(memory)'}`,
      signerSource: `key ${signer.id}`,
    });
    if (signerConfig.kind === 'memory') {
      logger.warn(
        `${named}using the in-memory signer: a new key and chain at every start, for testing only`,
      );
    }
    const hashSetting = profile
      ? (hash: string) => `the profile's timestamp-signer-hash: ${hash}`
      : undefined;
    for (const warning of tsaKeyWarnings(
      signer.algorithm,
      signer.publicKey,
      chainDer[0] ?? EMPTY,
      hashSetting,
    ))
      logger.warn(`${named}${warning}`);
    const chain = chainDer.map(parseCertificate);
    const leaf = chain[0];
    if (!leaf)
      throw new TokenProfileError(
        'NO_LEAF_CERTIFICATE',
        'certificate chain must contain a leaf certificate',
      );
    await selfTest(signer, leaf);
    // The start-up rules read the leaf's period already: it parses here.
    const keyUsage = privateKeyUsagePeriod(leaf);
    const validity = certificateValidityGuard([
      ...chain.map((certificate) => ({
        name: subjectLine(certificate.x509),
        ...validityOf(certificate, 'certificate'),
      })),
      ...(keyUsage
        ? [
            {
              name: subjectLine(leaf.x509),
              notBefore: keyUsage.notBefore ?? UNBOUNDED_PAST,
              notAfter: keyUsage.notAfter ?? UNBOUNDED_FUTURE,
              period: 'privateKeyUsage' as const,
            },
          ]
        : []),
    ]);
    // The policy a token is issued under by default is one a request may name (RFC 3161
    // section 2.4.2: only a policy the TSA does not support is refused); Go refuses it unless listed.
    const policies = profile
      ? profile.policyOids
      : [config.defaultPolicyOid, ...config.acceptedPolicyOids];
    const acceptedPolicies = new Set(policies.map((dotted) => toHex(oid(dotted))));
    const authority = new TimestampAuthority({
      profile: {
        signer,
        chain,
        defaultPolicy: oid(profile ? profile.policyOids[0]! : config.defaultPolicyOid),
        accuracySeconds: profile?.accuracySeconds ?? TOKEN_ACCURACY_SECONDS,
        // A profile's own accuracy wins over the top-level --accuracy.
        ...(profile?.accuracySeconds === undefined ? fixedAccuracy(config) : {}),
        includeChain: profile ? profile.includeChain : config.includeChainInResponse,
        qualified: profile ? profile.qualified : config.qualified,
        // Unset: check what comes back from outside the process (Signer.keyOutsideProcess).
        verifySignatures: config.verifyTokens ?? signer.keyOutsideProcess,
      },
      policy: {
        acceptedPolicies,
        allowCustomExtensions: config.allowCustomExtensions,
        acceptedExtensions: acceptedExtensionSet(config.acceptedExtensionOids),
      },
      // The signer's own guard comes first, from the authority itself.
      guards: [validity, ...guards],
      ...(timeSource ? { timeSource } : {}),
      ...(config.profiles?.length ? { name: profile?.name ?? DEFAULT_PROFILE_NAME } : {}),
    });
    const chainPem = chain.map((certificate) => encodePem('CERTIFICATE', certificate.der)).join('');
    const chainValid = () => validity() === undefined;
    if (!profile) trackCertificateValidity(chainValid);
    return { authority, signer, chain, chainPem, acceptedPolicies, chainValid };
  } catch (error) {
    await Promise.resolve(signer[Symbol.asyncDispose]()).catch(() => undefined);
    throw error;
  }
}

/** --accuracy as a fixed value in ms; auto leaves the default until the clock has measured. */
function fixedAccuracy(config: ServeConfig): { accuracyMs?: number } {
  const accuracy = clockOptionsFrom(config).accuracyMs;
  return accuracy === 'auto' ? {} : { accuracyMs: accuracy };
}
