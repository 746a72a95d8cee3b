import { oid, toHex } from '../../src/asn1/der.js';
import { OID } from '../../src/asn1/oids.js';
import type { Signer } from '../../src/crypto/signer.js';
import { TimestampAuthority, type AuthorityOptions } from '../../src/tsp/authority.js';
import type { Certificate } from '../../src/x509/certificate.js';

const SIGSTORE_POLICY = oid(OID.sigstoreTsaPolicy);

/**
 * A TimestampAuthority as the server's defaults make one: the sigstore TSA policy (the only one
 * accepted), one second of accuracy, the leaf alone in tokens, `verifySignatures` as given (unset:
 * the encoder's default). The other `options` replace the defaults' (a `profile` or `policy` whole).
 */
export function defaultAuthority(
  signer: Signer,
  chain: readonly Certificate[],
  options: Partial<AuthorityOptions> & { verifySignatures?: boolean } = {},
): TimestampAuthority {
  const { verifySignatures, ...rest } = options;
  return new TimestampAuthority({
    profile: {
      signer,
      chain,
      defaultPolicy: SIGSTORE_POLICY,
      accuracySeconds: 1,
      includeChain: false,
      ...(verifySignatures === undefined ? {} : { verifySignatures }),
    },
    policy: { acceptedPolicies: new Set([toHex(SIGSTORE_POLICY)]), allowCustomExtensions: false },
    ...rest,
  });
}
