import type { PolicyExtensions } from '../certificate-policy-tree.js';
import { CONTEXT, integerValue, oidText, readNode, UNIVERSAL } from './der-node.js';
import { DecodeError } from './errors.js';
import { VERIFY_OID } from './oids.js';

/**
 * `extensions` with one policy extension (`oid`, its extnValue) read into them (frozen): the
 * verifier's reading, on its own DER nodes, of what src/certificate-policy-tree.ts processes.
 */
export function withPolicyExtension(
  extensions: PolicyExtensions,
  oid: string,
  extnValue: Buffer,
): PolicyExtensions {
  const read: Partial<PolicyExtensions> =
    oid === VERIFY_OID.certificatePolicies
      ? { policies: readCertificatePolicies(extnValue) }
      : oid === VERIFY_OID.policyMappings
        ? { mappings: readPolicyMappings(extnValue) }
        : oid === VERIFY_OID.policyConstraints
          ? readPolicyConstraints(extnValue)
          : oid === VERIFY_OID.inhibitAnyPolicy
            ? { inhibitAnyPolicy: readInhibitAnyPolicy(extnValue) }
            : {};
  return Object.freeze({ ...extensions, ...read });
}

/** certificatePolicies ::= SEQUENCE OF PolicyInformation { policyIdentifier, qualifiers OPTIONAL } */
function readCertificatePolicies(extnValue: Buffer): readonly string[] {
  return Object.freeze(
    readNode(extnValue).children.map((information) => oidOf(information.children[0])),
  );
}

/** PolicyMappings ::= SEQUENCE OF SEQUENCE { issuerDomainPolicy, subjectDomainPolicy } */
function readPolicyMappings(extnValue: Buffer): readonly (readonly [string, string])[] {
  return Object.freeze(
    readNode(extnValue).children.map((mapping) =>
      Object.freeze([oidOf(mapping.children[0]), oidOf(mapping.children[1])] as const),
    ),
  );
}

/** PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL, inhibitPolicyMapping [1] ... } */
function readPolicyConstraints(
  extnValue: Buffer,
): Pick<PolicyExtensions, 'requireExplicitPolicy' | 'inhibitPolicyMapping'> {
  let requireExplicitPolicy: number | undefined;
  let inhibitPolicyMapping: number | undefined;
  for (const field of readNode(extnValue).children) {
    if (field.is(CONTEXT, 0)) requireExplicitPolicy = skipCerts(field.content);
    else if (field.is(CONTEXT, 1)) inhibitPolicyMapping = skipCerts(field.content);
    else throw new DecodeError('unexpected-type', 'policyConstraints holds an unknown field');
  }
  return { requireExplicitPolicy, inhibitPolicyMapping };
}

/** InhibitAnyPolicy ::= SkipCerts */
function readInhibitAnyPolicy(extnValue: Buffer): number {
  const value = readNode(extnValue);
  if (!value.is(UNIVERSAL, 2))
    throw new DecodeError('unexpected-type', 'inhibitAnyPolicy is not an INTEGER');
  return skipCerts(value.content);
}

function oidOf(node: ReturnType<typeof readNode> | undefined): string {
  if (!node?.is(UNIVERSAL, 6))
    throw new DecodeError('unexpected-type', 'a certificate policy is not an OBJECT IDENTIFIER');
  return oidText(node.content);
}

/** SkipCerts ::= INTEGER (0..MAX); any count past a path's length means the same. */
function skipCerts(content: Buffer): number {
  const value = integerValue(content);
  if (value < 0n) throw new DecodeError('unexpected-type', 'a negative SkipCerts');
  return value > 1024n ? 1024 : Number(value);
}
