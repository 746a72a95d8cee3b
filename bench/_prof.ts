import { createHash } from 'node:crypto';
import { oid, toHex } from '../src/asn1/der.js';
import { OID } from '../src/asn1/oids.js';
import { TimestampAuthority } from '../src/tsp/authority.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { encodeRequest } from '../test/helpers/requests.js';
import { createBenchSigner } from './keys.js';
const REQUEST = encodeRequest({
  digest: createHash('sha256').update('hello').digest(),
  nonce: 0x45ea49f1aac25d41n,
  certReq: true,
});
const { signer, chain } = await createBenchSigner('p256');
const tsa = new TimestampAuthority({
  profile: {
    signer,
    chain: chain.map(parseCertificate),
    defaultPolicy: oid(OID.sigstoreTsaPolicy),
    accuracySeconds: 1,
    includeChain: false,
    verifySignatures: false,
  },
  policy: {
    acceptedPolicies: new Set([toHex(oid(OID.sigstoreTsaPolicy))]),
    allowCustomExtensions: false,
  },
});
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < 8000) {
  for (let i = 0; i < 100; i++) await tsa.issue(REQUEST, 'der');
  n += 100;
}
console.log(n / 8, '/s');
