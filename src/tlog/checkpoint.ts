import { TlogError } from './errors.js';
import { formatHash, parseHash, type Hash } from './hash.js';
import { openNote, type Note, type NoteVerifier } from './note.js';

/**
 * C2SP tlog-checkpoint: the note text "<origin>\n<tree size>\n<base64 root hash>\n[extension
 * lines\n]", signed as a C2SP signed-note whose log key is named after the origin.
 */
export interface Checkpoint {
  origin: string;
  size: number;
  hash: Hash;
  /** optional, opaque, non-empty lines (NOT RECOMMENDED by the spec) */
  extensions?: string[];
}

const bad = (message: string): TlogError => new TlogError('BAD_CHECKPOINT', message);

/** The checkpoint's note text, ending in a newline. */
export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin === '' || c.origin.includes('\n')) throw bad('invalid checkpoint origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw bad('invalid checkpoint tree size');
  if (c.hash.length !== 32) throw bad('invalid checkpoint root hash');
  const extensions = c.extensions ?? [];
  if (extensions.some((line) => line === '' || line.includes('\n')))
    throw bad('invalid checkpoint extension line');
  return [c.origin, String(c.size), formatHash(c.hash), ...extensions]
    .map((l) => `${l}\n`)
    .join('');
}

/** Parses a checkpoint note text (as openNote returns it: the text, not the signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw bad('malformed checkpoint: no final newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, hashText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || hashText === undefined)
    throw bad('malformed checkpoint: fewer than three lines');
  if (origin === '') throw bad('malformed checkpoint: empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText)))
    throw bad('malformed checkpoint: bad tree size');
  let hash: Hash;
  try {
    hash = parseHash(hashText);
  } catch (error) {
    throw new TlogError('BAD_CHECKPOINT', 'malformed checkpoint: bad root hash', { cause: error });
  }
  if (extensions.some((line) => line === ''))
    throw bad('malformed checkpoint: empty extension line');
  const checkpoint: Checkpoint = { origin, size: Number(sizeText), hash };
  if (extensions.length > 0) checkpoint.extensions = extensions;
  return checkpoint;
}

/**
 * Opens a signed checkpoint with the log's verifier key and checks that its origin is the key's
 * name (or the given origin), as C2SP tlog-checkpoint recommends and our logs do.
 */
export function openCheckpoint(
  signed: string | Uint8Array,
  verifier: string | NoteVerifier,
  origin?: string,
): { checkpoint: Checkpoint; note: Note } {
  const note = openNote(signed, [verifier]);
  const checkpoint = parseCheckpoint(note.text);
  const keyName = note.sigs[0]!.name;
  const expected = origin ?? keyName;
  if (checkpoint.origin !== expected || keyName !== checkpoint.origin)
    throw bad(
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not ${JSON.stringify(expected)}`,
    );
  return { checkpoint, note };
}
