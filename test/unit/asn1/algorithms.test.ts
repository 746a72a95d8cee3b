import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import {
  HASHES,
  HASH_NAMES,
  hashByOidContent,
  parseHashName,
  rsassaPssIdentifier,
  SHA1_OID_CONTENT,
} from '../../../src/asn1/algorithms.js';
import { oidContent } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';

describe('hash algorithms', () => {
  it('finds an accepted hash by its OID content octets, and none for SHA-1', () => {
    for (const name of HASH_NAMES)
      expect(hashByOidContent(oidContent(HASHES[name].oid))?.name).toBe(name);
    expect(hashByOidContent(SHA1_OID_CONTENT)).toBeUndefined();
  });

  it('reads hash names as the Go flags do (case-insensitive) and names the valid ones otherwise', () => {
    expect(parseHashName('SHA384')).toBe('sha384');
    expect(() => parseHashName('sha1')).toThrow(
      'unsupported hash algorithm: sha1 (valid: sha256, sha384, sha512)',
    );
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'refuses %s, a name every plain object inherits, as an unsupported hash',
    (name) => {
      expect(() => parseHashName(name)).toThrow(`unsupported hash algorithm: ${name}`);
    },
  );

  it.each(HASH_NAMES)(
    'the RSASSA-PSS AlgorithmIdentifier for %s reads back with PKI.js as RFC 4055 profiles it',
    (name) => {
      const der = rsassaPssIdentifier(name);
      const parsed = asn1js.fromBER(new Uint8Array(der).buffer);
      expect(parsed.offset).toBe(der.length);
      const identifier = new pkijs.AlgorithmIdentifier({ schema: parsed.result });
      expect(identifier.algorithmId).toBe(OID.rsassaPss);
      const params = new pkijs.RSASSAPSSParams({ schema: identifier.algorithmParams });
      expect(params.hashAlgorithm.algorithmId).toBe(HASHES[name].oid);
      expect(params.maskGenAlgorithm.algorithmId).toBe(OID.mgf1);
      const mgfHash = new pkijs.AlgorithmIdentifier({
        schema: params.maskGenAlgorithm.algorithmParams,
      });
      expect(mgfHash.algorithmId).toBe(HASHES[name].oid);
      expect(params.saltLength).toBe(HASHES[name].length);
      expect(params.trailerField).toBe(1);
    },
  );
});
