import { oidContent, toHex } from '../asn1/der.js';
import { OID } from '../asn1/oids.js';
import { TokenProfileError } from './profile-error.js';
import { reject } from './rejection.js';

/** One request extension as the allow-list sees it (its value is never looked at). */
export interface RequestExtension {
  /** Content octets of extnID. */
  oid: Uint8Array;
  critical: boolean;
  /** `critical FALSE` sent explicitly: BER, not DER (X.690 11.5), so it cannot go into a token. */
  explicitNonCritical: boolean;
}

/**
 * Which request extensions are copied into tokens. The TSA acts on no extension, it only copies
 * it, so it never "recognizes" a critical one (RFC 3161 section 2.4.1): critical extensions are
 * always refused. So are duplicates, non-DER ones and qcStatements, which would let a client make
 * the token claim to be eIDAS-qualified (esi4-qtstStatement-1, ETSI EN 319 422).
 */
export interface ExtensionPolicy {
  /** Hex of the extnID content octets a request may carry (--accepted-extension-oids). */
  acceptedExtensions?: ReadonlySet<string>;
  /** Any other non-critical extnID too (--allow-custom-extensions, the Go flag). */
  allowCustomExtensions: boolean;
}

const QC_STATEMENTS = toHex(oidContent(OID.qcStatements));

export const QC_STATEMENTS_NEVER_ACCEPTED = `--accepted-extension-oids: qcStatements (${OID.qcStatements}) are never accepted from a client: they would make a token claim to be qualified`;

/** The allow-list of --accepted-extension-oids; throws on an invalid OID or qcStatements. */
export function acceptedExtensionSet(dottedOids: readonly string[]): ReadonlySet<string> {
  const accepted = new Set<string>();
  for (const dotted of dottedOids) {
    let content: Buffer;
    try {
      content = oidContent(dotted);
    } catch (error) {
      throw new TokenProfileError(
        'INVALID_EXTENSION_OID',
        `--accepted-extension-oids: invalid OID "${dotted}"`,
        {
          cause: error,
        },
      );
    }
    if (toHex(content) === QC_STATEMENTS) {
      throw new TokenProfileError('EXTENSION_NEVER_ACCEPTED', QC_STATEMENTS_NEVER_ACCEPTED);
    }
    accepted.add(toHex(content));
  }
  return accepted;
}

/** The start-up warning of --allow-custom-extensions: exactly what it lets clients add. */
export const ANY_EXTENSION_WARNING =
  '--allow-custom-extensions: tokens copy any non-critical request extension, whatever its OID, ' +
  `except qcStatements (${OID.qcStatements}); critical, duplicate and non-DER extensions are ` +
  'still refused. Prefer --accepted-extension-oids with the OIDs you mean to accept';

/** Refuses (unacceptedExtension) the first extension the policy does not accept. */
export function checkExtensions(
  extensions: readonly RequestExtension[],
  policy: ExtensionPolicy,
): void {
  const seen = new Set<string>();
  for (const extension of extensions) {
    const id = toHex(extension.oid);
    if (seen.has(id)) throw reject.unacceptedExtension('duplicate extension OID');
    seen.add(id);
    if (extension.explicitNonCritical) {
      throw reject.unacceptedExtension('explicit critical FALSE is not DER');
    }
    if (extension.critical) throw reject.unacceptedExtension('critical extensions are refused');
    if (id === QC_STATEMENTS) {
      throw reject.unacceptedExtension('qcStatements are never accepted from a client');
    }
    if (!policy.allowCustomExtensions && !policy.acceptedExtensions?.has(id)) {
      throw reject.unacceptedExtension('extension OID not accepted');
    }
  }
}
