import { DerSequenceReader, integerToBigInt, oidToString, readExactly, Tag } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import type { PolicyExtensions } from '../certificate-policy-tree.js';
import { X509Error } from './x509-error.js';

/**
 * `extensions` with one policy extension (`oid`, its extnValue) read into them (frozen), for the
 * start-up chain rules; src/verify/certificate-policies.ts reads the same for the verifier, which
 * imports nothing of the server. Other extensions leave `extensions` as they are.
 */
export function withPolicyExtension(
  extensions: PolicyExtensions,
  oid: string,
  value: Uint8Array,
): PolicyExtensions {
  const read: Partial<PolicyExtensions> | undefined =
    oid === OID.certificatePolicies
      ? { policies: readCertificatePolicies(value) }
      : oid === OID.policyMappings
        ? { mappings: readPolicyMappings(value) }
        : oid === OID.policyConstraints
          ? readPolicyConstraints(value)
          : oid === OID.inhibitAnyPolicy
            ? { inhibitAnyPolicy: skipCerts(readExactly(value, Tag.INTEGER).value) }
            : undefined;
  return read ? Object.freeze({ ...extensions, ...read }) : extensions;
}

/** certificatePolicies ::= SEQUENCE OF PolicyInformation { policyIdentifier, qualifiers OPTIONAL } */
function readCertificatePolicies(value: Uint8Array): readonly string[] {
  const policies: string[] = [];
  for (const information of elementsOf(value)) {
    policies.push(oidToString(new DerSequenceReader(information).next(Tag.OID).value));
  }
  return Object.freeze(policies);
}

/** PolicyMappings ::= SEQUENCE OF SEQUENCE { issuerDomainPolicy, subjectDomainPolicy } */
function readPolicyMappings(value: Uint8Array): readonly (readonly [string, string])[] {
  return Object.freeze(
    elementsOf(value).map((content) => {
      const mapping = new DerSequenceReader(content);
      const issuerDomainPolicy = oidToString(mapping.next(Tag.OID).value);
      const subjectDomainPolicy = oidToString(mapping.next(Tag.OID).value);
      mapping.end();
      return Object.freeze([issuerDomainPolicy, subjectDomainPolicy] as const);
    }),
  );
}

/** PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL, inhibitPolicyMapping [1] ... } */
function readPolicyConstraints(
  value: Uint8Array,
): Pick<PolicyExtensions, 'requireExplicitPolicy' | 'inhibitPolicyMapping'> {
  const constraints = new DerSequenceReader(readExactly(value, Tag.SEQUENCE).value);
  const requireExplicitPolicy = constraints.optional(0x80);
  const inhibitPolicyMapping = constraints.optional(0x81);
  constraints.end();
  return {
    requireExplicitPolicy: requireExplicitPolicy && skipCerts(requireExplicitPolicy.value),
    inhibitPolicyMapping: inhibitPolicyMapping && skipCerts(inhibitPolicyMapping.value),
  };
}

/** The contents of each SEQUENCE in a SEQUENCE OF SEQUENCE. */
function elementsOf(value: Uint8Array): Uint8Array[] {
  const list = new DerSequenceReader(readExactly(value, Tag.SEQUENCE).value);
  const contents: Uint8Array[] = [];
  while (!list.done) contents.push(list.next(Tag.SEQUENCE).value);
  return contents;
}

/** SkipCerts ::= INTEGER (0..MAX); any count past a chain's length means the same. */
function skipCerts(content: Uint8Array): number {
  const count = integerToBigInt(content);
  if (count < 0n)
    throw new X509Error('INVALID_EXTENSION', 'a policy extension has a negative SkipCerts');
  return count > 1024n ? 1024 : Number(count);
}
