/**
 * The token reader (src/verify/parse-response.ts, which walks the DER itself) against the one it
 * replaced, asn1js and PKI.js (test/helpers/pkijs-token-reader.ts): on real tokens, ours and
 * openssl's, and on thousands of edited ones, both accept the same tokens and read them alike.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTimestampToken } from '../../../src/verify/parse-response.js';
import { readNode, type DerNode } from '../../../src/verify/der-node.js';
import { verifySignerInfo } from '../../../src/verify/cms-signer.js';
import { VerificationError } from '../../../src/verify/errors.js';
import { tempDir } from '../../helpers/openssl.js';
import { makeReaderTokens, type ReaderToken } from '../../helpers/reader-tokens.js';
import { oracleParseToken } from '../../helpers/pkijs-token-reader.js';

const work = tempDir();
afterAll(() => work.cleanup());

/** What a reader made of a token, as plain data: every field, the lazily read ones included. */
function reading(
  read: () => { timestamp: object; signedAttributesDer?: Buffer | undefined; signature: Buffer },
) {
  try {
    const { timestamp, signedAttributesDer, signature } = read();
    return {
      timestamp: plain(timestamp),
      signedAttributesDer: signedAttributesDer?.toString('hex'),
      signature: signature.toString('hex'),
    };
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    return 'refused';
  }
}

function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    // A certificate view: its DER says all.
    if ('x509' in value && 'der' in value) return plain(value.der);
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
  }
  return value;
}

/** Whether every constructed value's contents are whole values, all the way down. */
function nests(der: Buffer): boolean {
  const walk = (node: DerNode): void => node.children.forEach(walk);
  try {
    walk(readNode(der));
    return true;
  } catch {
    return false;
  }
}

/** Whether the token breaks one of the DER rules asn1js did not enforce. */
function newDerRule(der: Buffer): boolean {
  try {
    parseTimestampToken(der);
  } catch (error) {
    return /OBJECT IDENTIFIER|end-of-contents|reserved universal tag|constructed encoding|BMPString|UniversalString|primitive encoding|Attribute has \d+ element\(s\) its schema does not have/.test(
      (error as Error).message,
    );
  }
  return false;
}

/** What each reader said of a token it refused, for the failure message. */
function refusal(der: Buffer): string {
  const said = (read: () => unknown) => {
    try {
      read();
      return 'accepted';
    } catch (error) {
      return (error as Error).message;
    }
  };
  return `ours: ${said(() => parseTimestampToken(der))}; PKI.js: ${said(() => oracleParseToken(der))}; ${der.toString('hex')}`;
}

/** Where two readings part, for the failure message. */
function firstDifference(ours: unknown, oracle: unknown, path = 'reading'): string {
  if (typeof ours !== 'object' || typeof oracle !== 'object' || !ours || !oracle)
    return ours === oracle ? '' : `${path}: ${String(ours)} against PKI.js's ${String(oracle)}`;
  for (const key of new Set([...Object.keys(ours), ...Object.keys(oracle)])) {
    const found = firstDifference(
      (ours as Record<string, unknown>)[key],
      (oracle as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (found) return found;
  }
  return '';
}

/** Both readers' readings, and the sids (the new reader's fields; PKI.js's object). */
function bothReadings(token: Buffer) {
  const ours = reading(() => parseTimestampToken(token));
  const oracle = reading(() => oracleParseToken(token));
  return { ours, oracle };
}

function sidsAgree(token: Buffer): void {
  const { sid } = parseTimestampToken(token).signerInfo;
  const oracleSid: unknown = oracleParseToken(token).signerInfo.sid;
  if (oracleSid instanceof pkijs.IssuerAndSerialNumber) {
    expect(sid).toEqual({
      issuerDer: Buffer.from(oracleSid.issuer.valueBeforeDecode),
      serialNumber: oracleSid.serialNumber.toBigInt(),
    });
  } else expect('keyIdentifier' in sid).toBe(true);
}

/** Fresh tokens (new keys, serials and times), for the readings of real tokens. */
const tokens: ReaderToken[] = [];
beforeAll(async () => tokens.push(...(await makeReaderTokens(work))));

/**
 * One set of them, kept (test/fixtures/token-reader/make-tokens.ts), for the edited tokens: the
 * same bytes every run, so the fixed seed makes the same edits and a failure replays anywhere.
 */
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'token-reader');
const fixedTokens: ReaderToken[] = (
  JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as { name: string; file: string }[]
).map(({ name, file }) => ({ name, der: readFileSync(join(FIXTURES, file)) }));

describe('the token reader, against asn1js and PKI.js', () => {
  it('reads real tokens as PKI.js did, every field', () => {
    for (const { name, der } of [...tokens, ...fixedTokens]) {
      const { ours, oracle } = bothReadings(der);
      expect(ours, name).not.toBe('refused');
      expect(ours, name).toEqual(oracle);
      sidsAgree(der);
    }
  });

  it("keeps what it read when the caller's bytes change afterwards", () => {
    const bytes = Buffer.from(tokens[0]!.der);
    const parsed = parseTimestampToken(bytes);
    const before = plain(parsed);
    bytes.fill(0);
    expect(plain(parsed)).toEqual(before);
    expect(() => verifySignerInfo(parsed, parsed.timestamp.certificates)).not.toThrow();
  });

  it('accepts and refuses the same edited tokens, and reads the accepted ones alike', () => {
    let accepted = 0;
    const edit = fc.oneof(
      // one octet set to any value
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), octet: fc.nat(255) }),
      // one bit flipped
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), octet: fc.nat(7) }),
      // one octet removed, or one inserted
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), octet: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), octet: fc.nat(255) }),
    );
    fc.assert(
      fc.property(
        fc.nat(fixedTokens.length - 1),
        fc.array(edit, { minLength: 1, maxLength: 2 }),
        (which, edits) => {
          let der = Buffer.from(fixedTokens[which]!.der);
          for (const { kind, at, octet } of edits) {
            const index = at % der.length;
            if (kind === 'set') der[index] = octet;
            else if (kind === 'flip') der[index] = (der[index] as number) ^ (1 << octet);
            else if (kind === 'remove')
              der = Buffer.concat([der.subarray(0, index), der.subarray(index + 1)]);
            else
              der = Buffer.concat([der.subarray(0, index), Buffer.of(octet), der.subarray(index)]);
          }
          const { ours, oracle } = bothReadings(der);
          if (ours !== 'refused') accepted++;
          // The DER rules added with this reader (OBJECT IDENTIFIER encodings, end-of-contents
          // octets, universal tags, constructed forms, and an Attribute of exactly its type and
          // values, where PKI.js ignores what follows them) refuse what asn1js let through.
          if (ours === 'refused' && newDerRule(der)) return;
          // asn1js reads past the end of a container whose contents overrun it (in the embedded
          // certificates, which the DER walk leaves opaque), where the reader refuses.
          if (ours === 'refused' && !nests(der)) return;
          // asn1js cannot encode again a signed attribute value of some types (TIME, DATE ...),
          // and the old reader refused the token for it; such a value is signed DER all the same.
          if (oracle === 'refused' && /User need to make a specific function/.test(refusal(der)))
            return;
          expect(ours, `${firstDifference(ours, oracle)} (${refusal(der)})`).toEqual(oracle);
        },
      ),
      // Fixed, as the tokens; TOKEN_READER_RUNS and TOKEN_READER_SEED run more or other edits by
      // hand, and make-tokens.ts other tokens.
      {
        numRuns: Number(process.env.TOKEN_READER_RUNS ?? 3000),
        seed: Number(process.env.TOKEN_READER_SEED ?? 20261206),
      },
    );
    // Edits outside what the readers read (a certificate's signature, the token's signature, a
    // serial's last octet ...) leave readable tokens: both paths are exercised.
    expect(accepted).toBeGreaterThan(100);
  });
});
