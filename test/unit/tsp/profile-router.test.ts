/** The profile router: one parse, the profile whose policies hold the reqPolicy, else the default. */
import { describe, expect, it } from 'vitest';
import { oid, toHex } from '../../../src/asn1/der.js';
import { OID } from '../../../src/asn1/oids.js';
import type { Signer } from '../../../src/crypto/signer.js';
import { createMemorySigner } from '../../../src/signers/memory.js';
import { TimestampAuthority } from '../../../src/tsp/authority.js';
import { ProfileRouter } from '../../../src/tsp/profile-router.js';
import { GO_MESSAGES } from '../../../src/tsp/rejection.js';
import { parseCertificate } from '../../../src/x509/certificate.js';
import { dotted, decodeResponse } from '../../helpers/decode.js';
import { encodeRequest } from '../../helpers/requests.js';

const QUALIFIED = '1.2.3.4.1';
const policyHex = (dottedOid: string) => toHex(oid(dottedOid));

async function authority(
  name: string | undefined,
  policies: string[],
  cancellable = false,
): Promise<TimestampAuthority> {
  const { signer, chain } = await createMemorySigner('sha256');
  const profileSigner: Signer = Object.assign(Object.create(signer) as Signer, { cancellable });
  return new TimestampAuthority({
    profile: {
      signer: profileSigner,
      chain: chain.map(parseCertificate),
      defaultPolicy: oid(policies[0] ?? OID.sigstoreTsaPolicy),
      accuracySeconds: 1,
      includeChain: false,
    },
    policy: { acceptedPolicies: new Set(policies.map(policyHex)), allowCustomExtensions: false },
    ...(name === undefined ? {} : { name }),
  });
}

async function router(cancellable = false) {
  const fallback = await authority(undefined, [OID.sigstoreTsaPolicy]);
  const qualified = await authority('qualified', [QUALIFIED], cancellable);
  return {
    fallback,
    qualified,
    router: new ProfileRouter(fallback, [
      { authority: qualified, policies: new Set([policyHex(QUALIFIED)]) },
    ]),
  };
}

describe('ProfileRouter', () => {
  it('sends a request to the profile that holds its reqPolicy, which signs with that policy', async () => {
    const { router: r } = await router();
    const outcome = await r.issue(encodeRequest({ policy: QUALIFIED }), 'der');
    expect(outcome).toMatchObject({ status: 'granted', profile: 'qualified' });
    expect(dotted(decodeResponse(outcome.der).tstInfo!.policy)).toBe(QUALIFIED);
  });

  it('sends a request without reqPolicy, or with the default policy, to the default profile', async () => {
    const { router: r, fallback } = await router();
    for (const request of [encodeRequest(), encodeRequest({ policy: OID.sigstoreTsaPolicy })]) {
      const outcome = await r.issue(request, 'der');
      expect(outcome.status).toBe('granted');
      expect(outcome.profile).toBeUndefined();
      expect(dotted(decodeResponse(outcome.der).tstInfo!.policy)).toBe(OID.sigstoreTsaPolicy);
    }
    expect(r.route({ ...parseOnly(), reqPolicy: oid('1.2.3.9') })).toBe(fallback);
  });

  it('lets the default profile refuse a policy no profile accepts (unacceptedPolicy)', async () => {
    const { router: r } = await router();
    const outcome = await r.issue(encodeRequest({ policy: '1.2.3.9' }), 'der');
    expect(outcome).toMatchObject({
      status: 'rejection',
      failInfo: 'unacceptedPolicy',
      message: GO_MESSAGES.unacceptedPolicy,
    });
    expect(outcome.profile).toBeUndefined();
  });

  it('answers a malformed body through the default profile (badDataFormat)', async () => {
    const { router: r } = await router();
    const outcome = await r.issue(Buffer.from('{"hashAlgorithm":'), 'json');
    expect(outcome).toMatchObject({ status: 'rejection', failInfo: 'badDataFormat' });
    expect(decodeResponse(outcome.der).failInfo).toEqual(['badDataFormat']);
  });

  it('is cancellable when any of its authorities is', async () => {
    expect((await router(false)).router.cancellable).toBe(false);
    expect((await router(true)).router.cancellable).toBe(true);
  });
});

/** The fields route() looks at, of a parsed request without reqPolicy. */
function parseOnly() {
  return {
    version: 1n,
    hashAlgorithmOid: new Uint8Array(),
    hashedMessage: new Uint8Array(),
    certReq: false,
  };
}
