import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  formatHash,
  formatTlogProof,
  MemoryHashStorage,
  newEd25519Signer,
  openCheckpoint,
  parseCheckpoint,
  parseTlogProof,
  proveRecord,
  signNote,
  treeHash,
  verifierKey,
  verifyTlogProof,
  type Checkpoint,
} from '../../../src/tlog/index.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });

// The examples of c2sp.org/tlog-checkpoint and c2sp.org/tlog-proof.
const C2SP_CHECKPOINT_TEXT =
  'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const C2SP_PROOF_HEAD = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=

`;

describe('C2SP tlog-checkpoint', () => {
  it('parses and formats the spec example byte for byte', () => {
    const c = parseCheckpoint(C2SP_CHECKPOINT_TEXT);
    expect(c.origin).toBe('example.com/behind-the-sofa');
    expect(c.size).toBe(20852163);
    expect(formatHash(c.hash)).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(formatCheckpoint(c)).toBe(C2SP_CHECKPOINT_TEXT);
    const withExtension = `${C2SP_CHECKPOINT_TEXT}ext line\n`;
    expect(parseCheckpoint(withExtension).extensions).toEqual(['ext line']);
    expect(formatCheckpoint(parseCheckpoint(withExtension))).toBe(withExtension);
  });

  it.each([
    'example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
    'example.com/log\n1\n',
    '\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    'example.com/log\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    'example.com/log\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    'example.com/log\n99999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    'example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n',
    'example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n',
  ])('rejects the malformed checkpoint %#', (text) => {
    expect(() => parseCheckpoint(text)).toThrow(code('BAD_CHECKPOINT'));
  });
});

async function log(origin: string, entries: string[]) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const storage = new MemoryHashStorage();
  for (const entry of entries) await storage.append(Buffer.from(entry));
  const checkpoint: Checkpoint = {
    origin,
    size: storage.size,
    hash: await treeHash(storage.size, storage),
  };
  const signed = await signNote(formatCheckpoint(checkpoint), newEd25519Signer(origin, privateKey));
  return { storage, signed, vkey: verifierKey(origin, publicKey), privateKey, publicKey };
}

describe('openCheckpoint', () => {
  it('checks the signature and that the origin is the key name', async () => {
    const { signed, vkey, privateKey, publicKey } = await log('tsa.example.com/log', ['a', 'b']);
    expect(openCheckpoint(signed, vkey).checkpoint.size).toBe(2);
    expect(() => openCheckpoint(signed, vkey, 'other.example/log')).toThrow(code('BAD_CHECKPOINT'));
    // A note signed by the log key under another name is not a checkpoint of this log.
    const renamed = await signNote(
      formatCheckpoint(parseCheckpoint(openCheckpoint(signed, vkey).note.text)),
      newEd25519Signer('evil.example/log', privateKey),
    );
    expect(() => openCheckpoint(renamed, verifierKey('evil.example/log', publicKey))).toThrow(
      code('BAD_CHECKPOINT'),
    );
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(() => openCheckpoint(signed, verifierKey('tsa.example.com/log', other))).toThrow(
      code('UNVERIFIED_NOTE'),
    );
  });
});

describe('C2SP tlog-proof@v1', () => {
  it('parses the spec example header', () => {
    const p = parseTlogProof(`${C2SP_PROOF_HEAD}${C2SP_CHECKPOINT_TEXT}\n— x AAAA\n`);
    expect(p.index).toBe(73894);
    expect(p.hashes).toHaveLength(2);
    expect(Buffer.from(p.extraData!).toString()).toBe('age-v1.2.1-darwin-arm64.tar.gz');
    expect(p.checkpoint).toBe(`${C2SP_CHECKPOINT_TEXT}\n— x AAAA\n`);
    expect(formatTlogProof(p)).toBe(`${C2SP_PROOF_HEAD}${C2SP_CHECKPOINT_TEXT}\n— x AAAA\n`);
  });

  it('proves each entry, and refuses another entry, a forged signature, a wrong origin', async () => {
    const entries = ['zero', 'one', 'two', 'three', 'four'];
    const { storage, signed, vkey } = await log('tsa.example.com/log', entries);
    for (const [index, entry] of entries.entries()) {
      const text = formatTlogProof({
        index,
        hashes: await proveRecord(storage.size, index, storage),
        checkpoint: signed,
      });
      expect(text.startsWith(`c2sp.org/tlog-proof@v1\nindex ${index}\n`)).toBe(true);
      expect(verifyTlogProof(text, Buffer.from(entry), vkey)).toMatchObject({
        index,
        checkpoint: { size: 5 },
      });
      expect(() => verifyTlogProof(text, Buffer.from('other'), vkey)).toThrow(code('BAD_PROOF'));
      expect(() => verifyTlogProof(text, Buffer.from(entry), vkey, 'x.example/log')).toThrow(
        code('BAD_CHECKPOINT'),
      );
      const forged = text.replace(
        /— (\S+) (\S{10})/,
        (_, n: string, s: string) => `— ${n} ${s.slice(0, 9)}${s[9] === 'A' ? 'B' : 'A'}`,
      );
      expect(() => verifyTlogProof(forged, Buffer.from(entry), vkey)).toThrow(
        code('BAD_SIGNATURE'),
      );
      const otherIndex = text.replace(`index ${index}\n`, `index ${(index + 1) % 5}\n`);
      expect(() => verifyTlogProof(otherIndex, Buffer.from(entry), vkey)).toThrow(
        code('BAD_PROOF'),
      );
    }
    const beyond = formatTlogProof({ index: 5, hashes: [], checkpoint: signed });
    expect(() => verifyTlogProof(beyond, Buffer.from('x'), vkey)).toThrow(code('BAD_PROOF'));
  });

  it.each([
    'c2sp.org/tlog-proof@v2\nindex 0\n\nx\n',
    'c2sp.org/tlog-proof@v1\nindex 01\n\nx\n',
    'c2sp.org/tlog-proof@v1\nindex 0\nnot-a-hash\n\nx\n',
    'c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\nx\n',
    'c2sp.org/tlog-proof@v1\nindex 0\n',
    'c2sp.org/tlog-proof@v1\nindex 0\n\n',
  ])('rejects the malformed proof %#', (text) => {
    expect(() => parseTlogProof(text)).toThrow(code('BAD_TLOG_PROOF'));
  });
});
