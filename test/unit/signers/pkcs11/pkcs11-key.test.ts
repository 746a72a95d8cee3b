import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { octetString } from '../../../../src/asn1/der.js';
import { CKK } from '../../../../src/signers/pkcs11/pkcs11-constants.js';
import { publicKeyFromAttributes } from '../../../../src/signers/pkcs11/pkcs11-key.js';

const spki = (key: { export(options: { type: 'spki'; format: 'der' }): Buffer }) =>
  key.export({ type: 'spki', format: 'der' });

/** A key's CKA_EC_PARAMS and raw point, cut from its SPKI (the curve OID and the BIT STRING). */
function ecParts(curve: string) {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  const der = spki(publicKey);
  const oidStart =
    der.indexOf(Buffer.from([0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])) + 9;
  const params = der.subarray(oidStart, oidStart + 2 + (der[oidStart + 1] as number));
  return { publicKey, point, params };
}

describe('public keys from PKCS#11 attributes', () => {
  it.each(['P-256', 'P-384', 'P-521'])(
    '%s: CKA_EC_PARAMS and CKA_EC_POINT, wrapped or raw',
    (curve) => {
      const { publicKey, point, params } = ecParts(curve);
      for (const ecPoint of [octetString(point), point]) {
        const made = publicKeyFromAttributes({ keyType: CKK.EC, ecParams: params, ecPoint }, 'uri');
        expect(spki(made)).toEqual(spki(publicKey));
      }
    },
  );

  it('RSA: CKA_MODULUS and CKA_PUBLIC_EXPONENT', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const made = publicKeyFromAttributes(
      {
        keyType: CKK.RSA,
        modulus: Buffer.from(jwk.n ?? '', 'base64url'),
        publicExponent: Buffer.from(jwk.e ?? '', 'base64url'),
      },
      'uri',
    );
    expect(spki(made)).toEqual(spki(publicKey));
  });

  it('Ed25519: the RFC 8410 OID or the edwards25519 PrintableString', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const point = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    for (const ecParams of [
      Buffer.from('06032b6570', 'hex'),
      Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]),
    ]) {
      const made = publicKeyFromAttributes(
        { keyType: CKK.EC_EDWARDS, ecParams, ecPoint: octetString(point) },
        'uri',
      );
      expect(spki(made)).toEqual(spki(publicKey));
    }
  });

  it('refuses other curves, key types and points of the wrong length', () => {
    const secp256k1 = Buffer.from('06052b8104000a', 'hex');
    expect(() =>
      publicKeyFromAttributes(
        { keyType: CKK.EC, ecParams: secp256k1, ecPoint: Buffer.alloc(65, 4) },
        'uri',
      ),
    ).toThrow(/unsupported EC curve/);
    expect(() => publicKeyFromAttributes({ keyType: 0x2 /* CKK_DH */ }, 'uri')).toThrow(
      /unsupported key type CKK 0x2/,
    );
    const { params } = ecParts('P-256');
    expect(() =>
      publicKeyFromAttributes(
        { keyType: CKK.EC, ecParams: params, ecPoint: Buffer.alloc(40) },
        'uri',
      ),
    ).toThrow(/not a point of the key's curve/);
    expect(() => publicKeyFromAttributes({ keyType: CKK.EC, ecParams: params }, 'uri')).toThrow(
      /no public key object/,
    );
  });
});
