import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateKey,
  newEd25519Signer,
  newSigner,
  newVerifier,
  openNote,
  signNote,
  TlogError,
  verifierKey,
} from '../../../src/tlog/index.js';

/**
 * Test vectors of Go's golang.org/x/mod/sumdb/note (note_test.go, Copyright 2019 The Go Authors,
 * BSD-style licence; Debian's golang-golang-x-mod-dev,
 * /usr/share/gocode/src/golang.org/x/mod/sumdb/note/note_test.go).
 */
const peterKey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const peterSkey = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const enochKey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const text =
  'If you think cryptography is the answer to your problem,\n' +
  "then you don't know what your problem is.\n";
const peterSig =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const enochSig =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const peter = {
  name: 'PeterNeumann',
  hash: 0xc74f20a3,
  base64:
    'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=',
};
const enoch = {
  name: 'EnochRoot',
  hash: 0xaf0cfe78,
  base64:
    'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=',
};

const code = (c: string): unknown => expect.objectContaining({ code: c });
/** Go's s[:60]+"ABCD"+s[60:] on bytes: the em dash is 3 bytes in UTF-8 but 1 UTF-16 unit. */
const insertABCD = (s: string): string =>
  Buffer.concat([
    Buffer.from(s).subarray(0, 60),
    Buffer.from('ABCD'),
    Buffer.from(s).subarray(60),
  ]).toString();

describe('note keys (Go TestNewVerifier, TestNewSigner)', () => {
  it('accepts the verifier key and rejects every substring and every mangled byte', () => {
    expect(newVerifier(peterKey).name).toBe('PeterNeumann');
    for (let i = 0; i <= peterKey.length; i++)
      for (let j = i + 1; j <= peterKey.length; j++)
        if (i !== 0 || j !== peterKey.length)
          expect(() => newVerifier(peterKey.slice(i, j))).toThrow(TlogError);
    for (let i = 0; i < peterKey.length; i++) {
      const mangled =
        peterKey.slice(0, i) +
        String.fromCharCode(peterKey.charCodeAt(i) + 1) +
        peterKey.slice(i + 1);
      expect(() => newVerifier(mangled), mangled).toThrow(TlogError);
    }
    // wrong length key and unknown algorithm, each with an adjusted key hash
    expect(() =>
      newVerifier('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='),
    ).toThrow(TlogError);
    expect(() =>
      newVerifier('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(TlogError);
  });

  it('accepts the signer key and rejects every substring and every mangled byte', () => {
    expect(newSigner(peterSkey).keyHash).toBe(0xc74f20a3);
    for (let i = 0; i <= peterSkey.length; i++)
      for (let j = i + 1; j <= peterSkey.length; j++)
        if (i !== 0 || j !== peterSkey.length)
          expect(() => newSigner(peterSkey.slice(i, j))).toThrow(TlogError);
    for (let i = 0; i < peterSkey.length; i++) {
      const mangled =
        peterSkey.slice(0, i) +
        String.fromCharCode(peterSkey.charCodeAt(i) + 1) +
        peterSkey.slice(i + 1);
      expect(() => newSigner(mangled), mangled).toThrow(TlogError);
    }
  });

  it('derives the verifier key of a KeyObject and of a generated seed consistently', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const vkey = verifierKey('example.com/log', publicKey);
    expect(verifierKey('example.com/log', privateKey)).toBe(vkey);
    const signer = newEd25519Signer('example.com/log', privateKey);
    const note = openNote(await signNote('hi\n', signer), [vkey]);
    expect(note.sigs).toHaveLength(1);
    const { skey, vkey: generated } = generateKey('EnochRoot', new Uint8Array(32).fill(9));
    expect(newSigner(skey).keyHash).toBe(newVerifier(generated).keyHash);
    expect(() => verifierKey('bad name', publicKey)).toThrow(TlogError);
    expect(() =>
      newEd25519Signer('x', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    ).toThrow(TlogError);
  });
});

describe('signNote (Go TestSign)', () => {
  it('produces the signature of the Go test vector', async () => {
    const want = `${text}\n${peterSig}`;
    expect(await signNote(text, newSigner(peterSkey))).toBe(want);
    // an existing signature by the same key is replaced
    expect(
      await signNote(
        {
          text,
          sigs: [{ name: 'PeterNeumann', hash: 0xc74f20a3, base64: 'BADSIGN=' }],
          unverifiedSigs: [],
        },
        newSigner(peterSkey),
      ),
    ).toBe(want);
  });

  it('rejects a text without a final newline, bad names and bad existing signatures', async () => {
    const signer = newSigner(peterSkey);
    await expect(signNote('abc', signer)).rejects.toThrow(code('BAD_NOTE'));
    await expect(
      signNote({ text, sigs: [{ name: 'a+b', hash: 0, base64: 'ABCD' }], unverifiedSigs: [] }),
    ).rejects.toThrow(code('BAD_NOTE'));
    await expect(
      signNote({
        text,
        sigs: [{ name: 'PeterNeumann', hash: 0xc74f20a3, base64: 'BADHASH=' }],
        unverifiedSigs: [],
      }),
    ).rejects.toThrow(code('BAD_NOTE'));
    await expect(signNote(text, { ...signer, name: 'bad name' })).rejects.toThrow(code('BAD_KEY'));
  });
});

describe('openNote (Go TestOpen)', () => {
  it('verifies known signatures and keeps unknown ones unverified', () => {
    let n = openNote(`${text}\n${peterSig}${enochSig}`, [peterKey]);
    expect(n.text).toBe(text);
    expect(n.sigs).toEqual([peter]);
    expect(n.unverifiedSigs).toEqual([enoch]);
    n = openNote(`${text}\n${peterSig}${enochSig}`, [peterKey, enochKey]);
    expect(n.sigs).toEqual([peter, enoch]);
    expect(n.unverifiedSigs).toEqual([]);
    expect(() => openNote(`${text}\n${peterSig}${enochSig}`, [])).toThrow(code('UNVERIFIED_NOTE'));
  });

  it('rejects an ambiguous verifier list only when the key is used', () => {
    expect(() => openNote(`${text}\n${enochSig}`, [enochKey, peterKey, enochKey])).toThrow(
      'ambiguous key EnochRoot+af0cfe78',
    );
    expect(openNote(`${text}\n${peterSig}`, [enochKey, peterKey, enochKey]).sigs).toEqual([peter]);
  });

  it('rejects too many signatures and a bad signature by a known key', () => {
    expect(() => openNote(`${text}\n${peterSig.repeat(101)}`, [peterKey])).toThrow(
      code('BAD_NOTE'),
    );
    expect(() => openNote(`${text}\n${peterSig.repeat(101)}`, [])).toThrow(code('BAD_NOTE'));
    expect(() => openNote(`${text}\n${insertABCD(peterSig)}`, [peterKey])).toThrow(
      'invalid signature for key PeterNeumann+c74f20a3',
    );
  });

  it('drops duplicated verified and unverified signatures', () => {
    const enochABCD = {
      ...enoch,
      base64:
        'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n' +
        'ABCD' +
        '2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=',
    };
    const n = openNote(
      `${text}\n${peterSig}${peterSig}${enochSig}${enochSig}${insertABCD(enochSig)}`,
      [peterKey],
    );
    expect(n.sigs).toEqual([peter]);
    expect(n.unverifiedSigs).toEqual([enoch, enochABCD]);
  });

  it.each([
    text,
    `${text}\n`,
    `${text}\n${peterSig.slice(0, -1)}`,
    `\x01${text}\n${peterSig}`,
    `${text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
    `${text}\n${peterSig}Unexpected line.\n`,
  ])('rejects the malformed note %#', (msg) => {
    expect(() => openNote(msg, [peterKey])).toThrow(code('BAD_NOTE'));
  });

  it('rejects invalid UTF-8', () => {
    const msg = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${text}\n${peterSig}`)]);
    expect(() => openNote(msg, [peterKey])).toThrow(code('BAD_NOTE'));
  });
});
