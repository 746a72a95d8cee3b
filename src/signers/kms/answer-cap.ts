import { collectCapped } from '../../capped-read.js';
import { SignerError } from '../signer-error.js';
import { overrideNote, type ServiceLabel } from './failure-reason.js';

/**
 * The most of a service's answer read. A KMS's are a few KB (a public key, a signature; Vault's
 * key with many versions, tens). A larger or endless one (a proxy streaming a download, or not a
 * KMS at all) is cut there rather than held whole in memory, and parsed in one piece on the event
 * loop: the SDKs of AWS and Azure set no limit of their own.
 */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** `<call>: HTTP <status> answer larger than 4 MiB, not read`. */
export const answerTooLarge = (call: string, status: number | undefined): string =>
  `${call}: HTTP ${status ?? '?'} answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB, not read`;

/**
 * The body of an answer, read up to MAX_ANSWER_BYTES; past it, leaving the read destroys the
 * stream (and closes its connection) and a BAD_ANSWER naming `call` and the service's endpoint
 * override, the first suspect, is thrown.
 */
export function readAnswerCapped(
  body: AsyncIterable<Uint8Array>,
  call: string,
  status: number | undefined,
  service: ServiceLabel,
): Promise<Buffer> {
  return collectCapped(
    body,
    MAX_ANSWER_BYTES,
    () => new SignerError('BAD_ANSWER', answerTooLarge(call, status) + overrideNote(service)),
  );
}
