import { CONTEXT, readNode, type DerNode } from './der-node.js';
import { DecodeError } from './errors.js';

/**
 * RFC 5280 section 4.2.1.10 name constraints, applied as Go's x509.Verify and OpenSSL apply them:
 * a CA's permitted and excluded subtrees bind the subjectAltName entries (DNS names, email
 * addresses, URIs, IP addresses) of every certificate below it in the path. The verifier's own
 * reading, sharing no code with the server's start-up check (src/x509/name-constraints.ts), so
 * that each checks the other.
 */

type NameKind = 'DNS name' | 'email address' | 'URI' | 'IP address';

interface Constraint {
  readonly kind: NameKind;
  /** DNS, email or URI constraint text; for an IP address, its octets then its mask's. */
  readonly text: string;
  readonly ip?: { readonly address: readonly number[]; readonly mask: readonly number[] };
}

export interface NameConstraints {
  readonly permitted: readonly Constraint[];
  readonly excluded: readonly Constraint[];
  /**
   * A subtree of a name form no verifier here checks (directoryName, otherName...): a critical
   * extension with one stays unhandled, as in Go.
   */
  readonly hasUnsupportedForm: boolean;
}

/** GeneralName tags (context-specific, primitive) of the forms checked, by tag number. */
const NAME_KINDS: Record<number, NameKind> = {
  1: 'email address',
  2: 'DNS name',
  6: 'URI',
  7: 'IP address',
};

/**
 * Most name-against-constraint comparisons for one CA certificate of a path, Go's
 * maxConstraintComparisons: a token's certificates could otherwise carry thousands of names
 * against thousands of subtrees.
 */
const MAX_COMPARISONS = 250_000;

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] ... } */
export function readNameConstraints(extnValue: Buffer): NameConstraints {
  const permitted: Constraint[] = [];
  const excluded: Constraint[] = [];
  let hasUnsupportedForm = false;
  for (const subtrees of readNode(extnValue).children) {
    const list =
      subtrees.is(CONTEXT, 0) && subtrees.constructed
        ? permitted
        : subtrees.is(CONTEXT, 1) && subtrees.constructed
          ? excluded
          : undefined;
    if (!list) throw new DecodeError('unexpected-type', 'nameConstraints holds an unknown field');
    // GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] DEFAULT 0, maximum [1] OPTIONAL }
    for (const subtree of subtrees.children) {
      const [base] = subtree.children;
      const kind = base && generalNameKind(base);
      if (!base || !kind) {
        hasUnsupportedForm = true;
        continue;
      }
      list.push(constraintOf(kind, base.content));
    }
  }
  return Object.freeze({
    permitted: Object.freeze(permitted),
    excluded: Object.freeze(excluded),
    hasUnsupportedForm,
  });
}

function generalNameKind(name: DerNode): NameKind | undefined {
  if (name.tagClass !== CONTEXT || name.constructed) return undefined;
  return NAME_KINDS[name.tagNumber];
}

function constraintOf(kind: NameKind, content: Buffer): Constraint {
  if (kind !== 'IP address') return Object.freeze({ kind, text: content.toString('latin1') });
  if (content.length !== 8 && content.length !== 32)
    throw new DecodeError('unexpected-type', 'an IP address name constraint without its mask');
  const half = content.length / 2;
  const address = Object.freeze([...content.subarray(0, half)]);
  const mask = Object.freeze([...content.subarray(half)]);
  const text = `${ipText(content.subarray(0, half))}/${maskBits(mask)}`;
  return Object.freeze({ kind, text, ip: Object.freeze({ address, mask }) });
}

/**
 * Why `ca`'s name constraints refuse a certificate below it (`below`: the path from the leaf up to
 * the certificate `ca` issued), in Go's words; undefined when they allow every name.
 */
export function nameConstraintsProblem(
  constraints: NameConstraints,
  below: readonly { subjectAltNames: readonly Buffer[] }[],
): string | undefined {
  let comparisons = 0;
  for (const certificate of below) {
    for (const generalName of certificate.subjectAltNames) {
      const node = readNode(generalName);
      const kind = generalNameKind(node);
      if (!kind) continue;
      const name = kind === 'IP address' ? node.content : node.content.toString('latin1');
      const excluded = constraints.excluded.filter((constraint) => constraint.kind === kind);
      const permitted = constraints.permitted.filter((constraint) => constraint.kind === kind);
      comparisons += excluded.length + permitted.length;
      if (comparisons > MAX_COMPARISONS)
        return 'x509: a certificate of the chain has too many name constraints to check';
      const shown = typeof name === 'string' ? name : ipText(name);
      const refusal = excluded.find((constraint) => matches(kind, name, constraint));
      if (refusal)
        return notAuthorized(`${kind} "${shown}" is excluded by constraint "${refusal.text}"`);
      if (permitted.length > 0 && !permitted.some((constraint) => matches(kind, name, constraint)))
        return notAuthorized(`${kind} "${shown}" is not permitted by any constraint`);
    }
  }
  return undefined;
}

function notAuthorized(detail: string): string {
  return `x509: a root or intermediate certificate is not authorized to sign for this name: ${detail}`;
}

function matches(kind: NameKind, name: string | Buffer, constraint: Constraint): boolean {
  if (typeof name !== 'string') {
    const { address, mask } = constraint.ip as NonNullable<Constraint['ip']>;
    return (
      name.length === address.length &&
      name.every(
        (octet, index) =>
          (octet & (mask[index] as number)) ===
          ((address[index] as number) & (mask[index] as number)),
      )
    );
  }
  switch (kind) {
    case 'DNS name':
      return withinDomain(name, constraint.text);
    case 'email address':
      return emailMatches(name, constraint.text);
    case 'URI':
      return uriMatches(name, constraint.text);
    default:
      return false;
  }
}

/**
 * RFC 5280 section 4.2.1.10: a constraint with an '@' is one mailbox (local part exact, host
 * case-insensitive); otherwise a host, or with a leading '.' the hosts under a domain.
 */
function emailMatches(address: string, constraint: string): boolean {
  const at = address.lastIndexOf('@');
  if (at < 0) return false;
  const constraintAt = constraint.lastIndexOf('@');
  if (constraintAt < 0) return withinDomain(address.slice(at + 1), constraint);
  return (
    address.slice(0, at) === constraint.slice(0, constraintAt) &&
    address.slice(at + 1).toLowerCase() === constraint.slice(constraintAt + 1).toLowerCase()
  );
}

/** A URI's host must be a domain name the constraint covers; an IP-literal host never is (Go). */
function uriMatches(uri: string, constraint: string): boolean {
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    return false;
  }
  if (host === '' || host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return false;
  return withinDomain(host, constraint);
}

/**
 * Go's matchDomainConstraint: the constraint's labels end the domain's, compared without case;
 * a leading '.' asks for at least one label more; an empty constraint covers every domain.
 */
function withinDomain(domain: string, constraint: string): boolean {
  if (constraint === '') return true;
  const needsSubdomain = constraint.startsWith('.');
  const constraintLabels = (needsSubdomain ? constraint.slice(1) : constraint)
    .toLowerCase()
    .split('.');
  const domainLabels = domain.toLowerCase().split('.');
  const extra = domainLabels.length - constraintLabels.length;
  if (extra < (needsSubdomain ? 1 : 0)) return false;
  return constraintLabels.every((label, index) => label === domainLabels[extra + index]);
}

function ipText(address: Buffer): string {
  if (address.length === 4) return [...address].join('.');
  const groups: string[] = [];
  for (let at = 0; at + 1 < address.length; at += 2)
    groups.push(address.readUInt16BE(at).toString(16));
  return groups.join(':');
}

function maskBits(mask: readonly number[]): number {
  let bits = 0;
  for (const octet of mask) for (let bit = 0; bit < 8; bit++) bits += (octet >> bit) & 1;
  return bits;
}
