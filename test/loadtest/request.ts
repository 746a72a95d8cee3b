import { createHash } from 'node:crypto';

/**
 * The Go k6 script's request: TimeStampReq v1, SHA-256 of "hello", nonce 0x45EA49F1AAC25D41,
 * no policy, certReq absent.
 */
export function helloTimeStampReq(): Buffer {
  const digest = createHash('sha256').update('hello').digest();
  return Buffer.concat([
    Buffer.from('30400201013031300d060960864801650304020105000420', 'hex'),
    digest,
    Buffer.from('020845ea49f1aac25d41', 'hex'),
  ]);
}
