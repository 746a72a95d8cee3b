import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { TlogError } from './errors.js';

/**
 * C2SP signed-note with Ed25519 keys (signature type 0x01), ported from Go's
 * golang.org/x/mod/sumdb/note: the same key strings ("name+hash+base64(0x01 || key)",
 * "PRIVATE+KEY+name+hash+base64(0x01 || seed)"), the same signature lines and the same rules in
 * openNote (unknown keys ignored, a bad signature by a known key rejects the note).
 *
 * Ported from Go, Copyright 2019 The Go Authors, BSD-style licence (see the Go source).
 */

/** Signs note texts with one key. */
export interface NoteSigner {
  /** the key name, e.g. the checkpoint origin */
  readonly name: string;
  /** the key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4] as a big-endian uint32 */
  readonly keyHash: number;
  sign(msg: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

/** Verifies note signatures by one key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  name: string;
  hash: number;
  /** base64 of the key ID and the signature */
  base64: string;
}

/** An opened note: its text (with the final newline) and its verified and other signatures. */
export interface Note {
  text: string;
  sigs: NoteSignature[];
  unverifiedSigs: NoteSignature[];
}

const ALG_ED25519 = 0x01;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The key ID of a key: the first 4 bytes of SHA-256(name || "\n" || encoded key). */
export function keyHash(name: string, key: Uint8Array): number {
  return createHash('sha256').update(name).update('\n').update(key).digest().readUInt32BE(0);
}

/** Whether name may name a key: non-empty, valid UTF-8 (no lone surrogate), no spaces, no '+'. */
export function isValidName(name: string): boolean {
  return name !== '' && !/[\s\u0085\p{Cs}]/u.test(name) && !name.includes('+');
}

const hex8 = (hash: number): string => hash.toString(16).padStart(8, '0');

/** The 32-byte raw Ed25519 public key of a KeyObject (public or private). */
function rawEd25519PublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new TlogError('BAD_KEY', `note keys are Ed25519, not ${publicKey.asymmetricKeyType}`);
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
}

/** The verifier key string "name+hash+base64(0x01 || key)" (Go's NewEd25519VerifierKey). */
export function verifierKey(name: string, publicKey: KeyObject): string {
  if (!isValidName(name)) throw new TlogError('BAD_KEY', 'invalid key name');
  const encoded = Buffer.concat([Buffer.from([ALG_ED25519]), rawEd25519PublicKey(publicKey)]);
  return `${name}+${hex8(keyHash(name, encoded))}+${encoded.toString('base64')}`;
}

/** A signer with an Ed25519 private key (a KeyObject, e.g. from a PKCS#8 PEM file). */
export function newEd25519Signer(name: string, privateKey: KeyObject): NoteSigner {
  if (!isValidName(name)) throw new TlogError('BAD_KEY', 'invalid key name');
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw new TlogError('BAD_KEY', 'the note signer needs an Ed25519 private key');
  const encoded = Buffer.concat([Buffer.from([ALG_ED25519]), rawEd25519PublicKey(privateKey)]);
  return {
    name,
    keyHash: keyHash(name, encoded),
    sign: (msg) => new Uint8Array(cryptoSign(null, msg, privateKey)),
  };
}

/**
 * A signer whose Ed25519 private key stays elsewhere (a PKCS#11 token): `sign` returns the raw
 * 64-byte Ed25519 signature of msg made with the key of `publicKey`.
 */
export function newEd25519KeySigner(
  name: string,
  publicKey: KeyObject,
  sign: (msg: Uint8Array) => Promise<Uint8Array>,
): NoteSigner {
  if (!isValidName(name)) throw new TlogError('BAD_KEY', 'invalid key name');
  const encoded = Buffer.concat([Buffer.from([ALG_ED25519]), rawEd25519PublicKey(publicKey)]);
  return { name, keyHash: keyHash(name, encoded), sign };
}

/** Splits s at the first sep (Go's chop). */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

/** Standard base64, canonical only (Go's StdEncoding rejects what Buffer would skip). */
function decodeBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const data = Buffer.from(s, 'base64');
  return data.toString('base64') === s ? data : undefined;
}

function parseHash16(s: string): number | undefined {
  return /^[0-9a-fA-F]{8}$/.test(s) ? Number.parseInt(s, 16) : undefined;
}

/** A verifier from a verifier key string (Go's NewVerifier). */
export function newVerifier(vkey: string): NoteVerifier {
  const [name, rest] = chop(vkey, '+');
  const [hash16, key64] = chop(rest, '+');
  const hash = parseHash16(hash16);
  const key = decodeBase64(key64);
  if (hash === undefined || key === undefined || !isValidName(name) || key.length === 0)
    throw new TlogError('BAD_KEY', 'malformed verifier id');
  if (hash !== keyHash(name, key)) throw new TlogError('BAD_KEY', 'invalid verifier hash');
  if (key[0] !== ALG_ED25519) throw new TlogError('BAD_KEY', 'unknown verifier algorithm');
  if (key.length !== 33) throw new TlogError('BAD_KEY', 'malformed verifier id');
  const publicKey = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, key.subarray(1)]),
    format: 'der',
    type: 'spki',
  });
  return {
    name,
    keyHash: hash,
    verify: (msg, sig) => {
      try {
        return sig.length === 64 && cryptoVerify(null, msg, publicKey, sig);
      } catch {
        return false;
      }
    },
  };
}

/** A signer from a "PRIVATE+KEY+name+hash+base64(0x01 || seed)" string (Go's NewSigner). */
export function newSigner(skey: string): NoteSigner {
  const [priv1, rest1] = chop(skey, '+');
  const [priv2, rest2] = chop(rest1, '+');
  const [name, rest3] = chop(rest2, '+');
  const [hash16, key64] = chop(rest3, '+');
  const hash = parseHash16(hash16);
  const key = decodeBase64(key64);
  if (
    priv1 !== 'PRIVATE' ||
    priv2 !== 'KEY' ||
    hash === undefined ||
    key === undefined ||
    !isValidName(name) ||
    key.length === 0
  )
    throw new TlogError('BAD_KEY', 'malformed signer id');
  if (key[0] !== ALG_ED25519) throw new TlogError('BAD_KEY', 'unknown signer algorithm');
  if (key.length !== 33) throw new TlogError('BAD_KEY', 'malformed signer id');
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, key.subarray(1)]),
    format: 'der',
    type: 'pkcs8',
  });
  const signer = newEd25519Signer(name, privateKey);
  if (signer.keyHash !== hash) throw new TlogError('BAD_KEY', 'invalid signer hash');
  return signer;
}

/** A fresh Ed25519 key pair as Go's GenerateKey prints it: the signer and verifier key strings. */
export function generateKey(name: string, seed: Uint8Array): { skey: string; vkey: string } {
  if (seed.length !== 32) throw new TlogError('BAD_KEY', 'an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const vkey = verifierKey(name, privateKey);
  const hash = vkey.split('+')[1]!;
  const skey = `PRIVATE+KEY+${name}+${hash}+${Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64')}`;
  return { skey, vkey };
}

const malformed = (): TlogError => new TlogError('BAD_NOTE', 'malformed note');

/**
 * Signs the note text (which must end in a newline) with each signer and returns the signed note
 * (Go's Sign; signatures already in a Note are kept unless a signer replaces them).
 */
export async function signNote(note: string | Note, ...signers: NoteSigner[]): Promise<string> {
  const { text, sigs = [], unverifiedSigs = [] } = typeof note === 'string' ? { text: note } : note;
  if (!text.endsWith('\n')) throw malformed();
  const msg = new TextEncoder().encode(text);
  const have = new Set<string>();
  const lines: string[] = [];
  for (const signer of signers) {
    if (!isValidName(signer.name)) throw new TlogError('BAD_KEY', 'invalid signer');
    have.add(`${signer.name}+${signer.keyHash}`);
    const sig = await signer.sign(msg);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(signer.keyHash >>> 0);
    lines.push(`— ${signer.name} ${Buffer.concat([id, sig]).toString('base64')}\n`);
  }
  const kept: string[] = [];
  for (const sig of [...sigs, ...unverifiedSigs]) {
    if (!isValidName(sig.name)) throw malformed();
    if (have.has(`${sig.name}+${sig.hash}`)) continue;
    const raw = decodeBase64(sig.base64);
    if (raw === undefined || raw.length < 4 || raw.readUInt32BE(0) !== sig.hash) throw malformed();
    kept.push(`— ${sig.name} ${sig.base64}\n`);
  }
  return `${text}\n${kept.join('')}${lines.join('')}`;
}

/**
 * Opens a signed note and checks its signatures against the known verifiers (Go's Open).
 * Signatures by unknown keys are recorded as unverified; a signature by a known key that does not
 * verify throws BAD_SIGNATURE; a note without any verified signature throws UNVERIFIED_NOTE.
 */
export function openNote(
  msg: string | Uint8Array,
  known: readonly (string | NoteVerifier)[],
): Note {
  const bytes = typeof msg === 'string' ? new TextEncoder().encode(msg) : msg;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new TlogError('BAD_NOTE', 'malformed note', { cause: error });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(decoded)) throw malformed();
  const verifiers = new Map<string, NoteVerifier[]>();
  for (const entry of known) {
    const verifier = typeof entry === 'string' ? newVerifier(entry) : entry;
    const key = `${verifier.name}+${verifier.keyHash}`;
    verifiers.set(key, [...(verifiers.get(key) ?? []), verifier]);
  }

  const split = decoded.lastIndexOf('\n\n');
  if (split < 0) throw malformed();
  const text = decoded.slice(0, split + 1);
  let sigs = decoded.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n')) throw malformed();
  const textBytes = new TextEncoder().encode(text);
  const note: Note = { text, sigs: [], unverifiedSigs: [] };
  const seen = new Set<string>();
  const seenUnverified = new Set<string>();
  let numSig = 0;
  while (sigs.length > 0) {
    const i = sigs.indexOf('\n');
    let line = sigs.slice(0, i);
    sigs = sigs.slice(i + 1);
    if (!line.startsWith('— ')) throw malformed();
    line = line.slice('— '.length);
    const [name, b64] = chop(line, ' ');
    const sig = decodeBase64(b64);
    if (sig === undefined || !isValidName(name) || b64 === '' || sig.length < 5) throw malformed();
    const hash = sig.readUInt32BE(0);
    // Avoid spending forever parsing a note with many signatures.
    if (++numSig > 100) throw malformed();
    const key = `${name}+${hash}`;
    const candidates = verifiers.get(key);
    if (candidates === undefined) {
      if (seenUnverified.has(line)) continue;
      seenUnverified.add(line);
      note.unverifiedSigs.push({ name, hash, base64: b64 });
      continue;
    }
    if (candidates.length > 1)
      throw new TlogError('BAD_KEY', `ambiguous key ${name}+${hex8(hash)}`);
    if (seen.has(key)) continue;
    seen.add(key);
    if (!candidates[0]!.verify(textBytes, sig.subarray(4)))
      throw new TlogError('BAD_SIGNATURE', `invalid signature for key ${name}+${hex8(hash)}`);
    note.sigs.push({ name, hash, base64: b64 });
  }
  if (note.sigs.length === 0)
    throw new TlogError('UNVERIFIED_NOTE', 'note has no verifiable signatures');
  return note;
}
