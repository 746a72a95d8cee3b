// piscina worker for bench/signing-strategies.ts: signs with a key it imports once.
import { Buffer } from 'node:buffer';
import { createPrivateKey, sign } from 'node:crypto';

let key;
export default ({ pkcs8, data, hash }) => {
  key ??= createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  return sign(hash, data, key);
};
