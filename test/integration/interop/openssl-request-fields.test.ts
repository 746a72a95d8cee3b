/**
 * Requests written by openssl (`asn1parse -genconf`, as `ts -query` cannot choose its nonce or
 * leave out the hash parameters): 256- and 512-bit nonces, and both hash parameter forms. The
 * tokens must verify with `openssl ts -verify -queryfile` (which compares the nonce and the
 * imprint with the request) and with src/verify, and carry the request's messageImprint verbatim.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../../src/config/resolve.js';
import { startServer, type RunningServer } from '../../../src/runtime/serve.js';
import { verifyTimestampResponse } from '../../../src/verify/index.js';
import { encodePem } from '../../../src/x509/pem.js';
import { decodeResponse } from '../../helpers/decode.js';
import { openssl, tempDir } from '../../helpers/openssl.js';
import { opensslTsVerify } from '../../helpers/timestamp-roundtrip.js';
import { silentLogger } from '../../helpers/tsa.js';

describe('openssl-made requests with large nonces and either hash parameter form', () => {
  let server: RunningServer;
  const files = tempDir();
  const digest = createHash('sha256').update('artifact\n').digest();
  let trust: { root: string; untrusted: string };

  beforeAll(async () => {
    server = await startServer(
      resolveServeConfig({ port: 0, metricsPort: 0, disableNtpMonitoring: true }),
      silentLogger,
    );
    const chain = server.chain.map((certificate) => encodePem('CERTIFICATE', certificate.der));
    trust = {
      root: files.write('root.pem', chain.at(-1) ?? ''),
      untrusted: files.write('chain.pem', chain.slice(0, -1).join('')),
    };
  });
  afterAll(async () => {
    await server.close();
    files.cleanup();
  });

  /** A TimeStampReq written by `openssl asn1parse -genconf`. */
  async function opensslRequest(name: string, nonce: bigint, nullParameters: boolean) {
    const conf = files.write(
      `${name}.cnf`,
      [
        'asn1 = SEQUENCE:request',
        '[request]',
        'version = INTEGER:1',
        'imprint = SEQUENCE:imprint',
        `nonce = INTEGER:${nonce < 0n ? '-' : ''}0x${(nonce < 0n ? -nonce : nonce).toString(16)}`,
        'certReq = BOOLEAN:TRUE',
        '[imprint]',
        'algorithm = SEQUENCE:algorithm',
        `digest = FORMAT:HEX,OCTETSTRING:${digest.toString('hex')}`,
        '[algorithm]',
        'oid = OID:sha256',
        ...(nullParameters ? ['parameters = NULL'] : []),
        '',
      ].join('\n'),
    );
    const query = files.path(`${name}.tsq`);
    await openssl(['asn1parse', '-genconf', conf, '-out', query, '-noout']);
    return query;
  }

  it.each([
    ['a 256-bit nonce with its top bit set (33 octets)', (1n << 256n) - 12345n, true],
    ['a 512-bit nonce with its top bit set (65 octets)', (1n << 512n) - 1n, true],
    ['absent hash parameters', (1n << 255n) + 7n, false],
  ])('%s: granted, verified by openssl and src/verify', async (name, nonce, nullParameters) => {
    const query = await opensslRequest(name.replace(/\W+/g, '-'), nonce, nullParameters);
    const queryText = await openssl(['ts', '-query', '-in', query, '-text']);
    expect(queryText).toMatch(/Nonce: 0x[0-9A-F]+/);
    const body = readFileSync(query);
    const response = await fetch(`${server.url}/api/v1/timestamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body,
    });
    expect(response.status).toBe(200);
    const tsr = new Uint8Array(await response.arrayBuffer());
    const reply = files.write(`${name.replace(/\W+/g, '-')}.tsr`, tsr);
    expect(await opensslTsVerify(reply, { queryfile: query }, trust)).toMatch(/Verification: OK/);

    // The messageImprint TLV of the request, byte for byte in the TSTInfo.
    const start = 2 + ((body[1] as number) & 0x80 ? (body[1] as number) & 0x7f : 0) + 3;
    const imprint = body.subarray(start, start + 2 + (body[start + 1] as number));
    expect(imprint[0]).toBe(0x30);
    expect(imprint.includes(digest)).toBe(true);
    const { tstInfoDer } = decodeResponse(tsr);
    expect(Buffer.from(tstInfoDer as Uint8Array).includes(imprint)).toBe(true);

    const timestamp = await verifyTimestampResponse(
      tsr,
      { digest },
      {
        roots: [server.chain.at(-1)!.der],
        intermediates: server.chain.slice(1, -1).map((certificate) => certificate.der),
        nonce,
      },
    );
    expect(timestamp.nonce).toBe(nonce);
    expect(timestamp.hashedMessage.equals(digest)).toBe(true);
  });
});
