import { DerSequenceReader, readExactly, Tag } from '../asn1/der.js';
import { X509Error } from './x509-error.js';

/**
 * RFC 5280 name constraints as Go's crypto/x509 applies them while building a chain: a CA's
 * permitted and excluded subtrees are checked against the subjectAltName entries (DNS, email,
 * URI, IP) of the certificates below it; other name forms are ignored, as in Go.
 */

type NameKind = 'DNS name' | 'email address' | 'URI' | 'IP address';

interface Constraint {
  kind: NameKind;
  /** DNS/email/URI constraint text, or IP + mask octets. */
  value: string | { ip: Buffer; mask: Buffer };
}

export interface NameConstraints {
  permitted: Constraint[];
  excluded: Constraint[];
  /** A name form Go cannot check (directoryName, otherName...) was constrained. */
  hasUnsupportedForm: boolean;
}

export interface SubjectAltName {
  kind: NameKind;
  value: string | Buffer;
}

const GENERAL_NAME_KINDS: Record<number, NameKind> = {
  0x81: 'email address',
  0x82: 'DNS name',
  0x86: 'URI',
  0x87: 'IP address',
};

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] ... } */
export function parseNameConstraints(value: Uint8Array): NameConstraints {
  const result: NameConstraints = { permitted: [], excluded: [], hasUnsupportedForm: false };
  const reader = new DerSequenceReader(readExactly(value, Tag.SEQUENCE).value);
  for (const [tag, list] of [
    [0xa0, result.permitted],
    [0xa1, result.excluded],
  ] as const) {
    const subtrees = reader.optional(tag);
    if (!subtrees) continue;
    const subtreeReader = new DerSequenceReader(subtrees.value);
    while (!subtreeReader.done) {
      // GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] DEFAULT 0, maximum [1] OPTIONAL }
      const base = new DerSequenceReader(subtreeReader.next(Tag.SEQUENCE).value).next();
      const kind = GENERAL_NAME_KINDS[base.tag];
      if (!kind) {
        result.hasUnsupportedForm = true;
        continue;
      }
      const bytes = Buffer.from(base.value);
      if (kind === 'IP address') {
        if (bytes.length !== 8 && bytes.length !== 32)
          throw new X509Error(
            'INVALID_NAME_CONSTRAINT',
            'x509: invalid IP mask in name constraint',
          );
        const half = bytes.length / 2;
        list.push({ kind, value: { ip: bytes.subarray(0, half), mask: bytes.subarray(half) } });
      } else {
        list.push({ kind, value: bytes.toString('latin1') });
      }
    }
  }
  return result;
}

/** The DNS, email, URI and IP entries of a subjectAltName extension value. */
export function parseSubjectAltNames(value: Uint8Array): SubjectAltName[] {
  const names: SubjectAltName[] = [];
  const reader = new DerSequenceReader(readExactly(value, Tag.SEQUENCE).value);
  while (!reader.done) {
    const name = reader.next();
    const kind = GENERAL_NAME_KINDS[name.tag];
    if (!kind) continue;
    names.push({
      kind,
      value:
        kind === 'IP address'
          ? Buffer.from(name.value)
          : Buffer.from(name.value).toString('latin1'),
    });
  }
  return names;
}

/** Go's checkNameConstraints for one name; returns the error text, if any. */
export function checkName(name: SubjectAltName, constraints: NameConstraints): string | undefined {
  const shown = typeof name.value === 'string' ? name.value : formatIp(name.value);
  const applicable = (list: Constraint[]) =>
    list.filter((constraint) => constraint.kind === name.kind);
  for (const constraint of applicable(constraints.excluded)) {
    if (matches(name, constraint)) {
      return notAuthorized(
        `${name.kind} ${JSON.stringify(shown)} is excluded by constraint ${JSON.stringify(formatConstraint(constraint))}`,
      );
    }
  }
  const permitted = applicable(constraints.permitted);
  if (permitted.length > 0 && !permitted.some((constraint) => matches(name, constraint))) {
    return notAuthorized(
      `${name.kind} ${JSON.stringify(shown)} is not permitted by any constraint`,
    );
  }
  return undefined;
}

function notAuthorized(detail: string): string {
  return `x509: a root or intermediate certificate is not authorized to sign for this name: ${detail}`;
}

function matches(name: SubjectAltName, constraint: Constraint): boolean {
  const value = constraint.value;
  if (typeof value !== 'string') {
    const ip = name.value as Buffer;
    if (ip.length !== value.ip.length) return false;
    return ip.every(
      (byte, index) =>
        (byte & (value.mask[index] as number)) ===
        ((value.ip[index] as number) & (value.mask[index] as number)),
    );
  }
  const text = name.value as string;
  switch (name.kind) {
    case 'DNS name':
      return matchDomain(text, value);
    case 'email address': {
      const at = text.lastIndexOf('@');
      if (at < 0) return false;
      if (value.includes('@')) {
        const constraintAt = value.lastIndexOf('@');
        return (
          text.slice(0, at) === value.slice(0, constraintAt) &&
          text.slice(at + 1).toLowerCase() === value.slice(constraintAt + 1).toLowerCase()
        );
      }
      return matchDomain(text.slice(at + 1), value);
    }
    case 'URI': {
      let host: string;
      try {
        host = new URL(text).hostname;
      } catch {
        return false;
      }
      if (host === '' || host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return false;
      return matchDomain(host, value);
    }
    default:
      return false;
  }
}

/** Go's matchDomainConstraint: a leading dot demands a proper subdomain; labels compare case-insensitively. */
function matchDomain(domain: string, constraint: string): boolean {
  if (constraint === '') return true;
  let mustHaveSubdomains = false;
  let base = constraint;
  if (base.startsWith('.')) {
    mustHaveSubdomains = true;
    base = base.slice(1);
  }
  const domainLabels = domain.toLowerCase().split('.').reverse();
  const constraintLabels = base.toLowerCase().split('.').reverse();
  if (domainLabels.length < constraintLabels.length) return false;
  if (mustHaveSubdomains && domainLabels.length === constraintLabels.length) return false;
  return constraintLabels.every((label, index) => label === domainLabels[index]);
}

function formatIp(ip: Buffer): string {
  if (ip.length === 4) return [...ip].join('.');
  const groups: string[] = [];
  for (let index = 0; index < ip.length; index += 2)
    groups.push(ip.readUInt16BE(index).toString(16));
  return groups.join(':');
}

function formatConstraint(constraint: Constraint): string {
  const value = constraint.value;
  if (typeof value === 'string') return value;
  const bits = [...value.mask].reduce(
    (count, byte) => count + byte.toString(2).replace(/0/g, '').length,
    0,
  );
  return `${formatIp(value.ip)}/${bits}`;
}
