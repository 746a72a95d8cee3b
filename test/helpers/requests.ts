import { createHash } from 'node:crypto';
import { HASHES, type HashName } from '../../src/asn1/algorithms.js';
import {
  boolean,
  contextTag,
  integer,
  NULL,
  octetString,
  oid,
  sequence,
  tlv,
} from '../../src/asn1/der.js';

export interface RequestSpec {
  version?: bigint | undefined;
  hashOid?: string | undefined;
  hash?: HashName | undefined;
  digest?: Uint8Array | undefined;
  /** Omit the AlgorithmIdentifier NULL parameters. */
  noNullParameters?: boolean | undefined;
  policy?: string | undefined;
  nonce?: bigint | undefined;
  certReq?: boolean | undefined;
  extensions?: { oid: string; critical?: boolean; value: Uint8Array }[] | undefined;
}

/** Encodes a TimeStampReq from a spec (test-side encoder, independent of the parser). */
export function encodeRequest(spec: RequestSpec = {}): Buffer {
  const hash = spec.hash ?? 'sha256';
  const hashOid = spec.hashOid ?? HASHES[hash].oid;
  const digest = spec.digest ?? createHash(hash).update('hello').digest();
  const algorithm = spec.noNullParameters ? sequence(oid(hashOid)) : sequence(oid(hashOid), NULL);
  const parts: Uint8Array[] = [
    integer(spec.version ?? 1n),
    sequence(algorithm, octetString(digest)),
  ];
  if (spec.policy) parts.push(oid(spec.policy));
  if (spec.nonce !== undefined) parts.push(integer(spec.nonce));
  if (spec.certReq !== undefined) parts.push(boolean(spec.certReq));
  if (spec.extensions) {
    const encoded = spec.extensions.map((extension) =>
      sequence(
        oid(extension.oid),
        ...(extension.critical ? [boolean(true)] : []),
        octetString(extension.value),
      ),
    );
    parts.push(tlv(contextTag(0, true), ...encoded));
  }
  return sequence(...parts);
}

export const sha256 = (data: string | Uint8Array): Buffer =>
  createHash('sha256').update(data).digest();

/** POSTs `body` to the server at `url`'s timestamp route: the status, Retry-After and body. */
export async function postTimestampRequest(
  url: string,
  body: Uint8Array,
  contentType = 'application/timestamp-query',
): Promise<{ status: number; retryAfter: string | null; body: Buffer }> {
  const response = await fetch(`${url}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

/** GET /readyz of the server at `url`: its status and text. */
export async function getReadyz(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, text: await response.text() };
}
