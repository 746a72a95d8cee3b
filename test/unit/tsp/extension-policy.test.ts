/** Which request extensions a token may copy: each refusal's detail, and what passes. */
import { describe, expect, it } from 'vitest';
import { oidContent, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import {
  checkExtensions,
  type ExtensionPolicy,
  type RequestExtension,
} from '../../../src/tsp/extension-policy.js';
import { GO_MESSAGES, TimeStampRejection } from '../../../src/tsp/rejection.js';

const ACCEPTED = '1.2.3.4';
const allowList: ExtensionPolicy = {
  acceptedExtensions: new Set([toHex(oidContent(ACCEPTED))]),
  allowCustomExtensions: false,
};
const anyExtension: ExtensionPolicy = { allowCustomExtensions: true };

const extension = (dotted: string, more: Partial<RequestExtension> = {}): RequestExtension => ({
  oid: oidContent(dotted),
  critical: false,
  explicitNonCritical: false,
  ...more,
});

function refusal(extensions: RequestExtension[], policy: ExtensionPolicy): unknown {
  try {
    checkExtensions(extensions, policy);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('checkExtensions', () => {
  it.each<[string, RequestExtension[], ExtensionPolicy, string]>([
    [
      'a duplicate OID',
      [extension(ACCEPTED), extension(ACCEPTED)],
      anyExtension,
      'duplicate extension OID',
    ],
    [
      'an explicit critical FALSE',
      [extension(ACCEPTED, { explicitNonCritical: true })],
      anyExtension,
      'explicit critical FALSE is not DER',
    ],
    [
      'a critical extension',
      [extension(ACCEPTED, { critical: true })],
      anyExtension,
      'critical extensions are refused',
    ],
    [
      'qcStatements, even when any extension is allowed',
      [extension(OID.qcStatements)],
      anyExtension,
      'qcStatements are never accepted from a client',
    ],
    [
      'an OID off the allow-list',
      [extension(ACCEPTED), extension('1.2.3.5')],
      allowList,
      'extension OID not accepted',
    ],
    [
      'any OID without an allow-list or --allow-custom-extensions',
      [extension(ACCEPTED)],
      { allowCustomExtensions: false },
      'extension OID not accepted',
    ],
  ])('refuses %s (unacceptedExtension)', (_name, extensions, policy, detail) => {
    const error = refusal(extensions, policy);
    expect(error).toBeInstanceOf(TimeStampRejection);
    expect(error).toMatchObject({
      failInfo: 'unacceptedExtension',
      message: GO_MESSAGES.unacceptedExtension,
      detail,
    });
  });

  it('accepts allow-listed extensions, and any other non-critical one with --allow-custom-extensions', () => {
    expect(refusal([extension(ACCEPTED)], allowList)).toBeUndefined();
    expect(refusal([extension(ACCEPTED), extension('1.2.3.5')], anyExtension)).toBeUndefined();
    expect(refusal([], { allowCustomExtensions: false })).toBeUndefined();
  });
});
