import { describe, expect, it } from 'vitest';
import { dottedOid, twosComplementOctets, twosComplementValue } from '../../src/der-numbers.js';

/** The octet-by-octet definitions (X.690 8.3, 8.19), quadratic but plainly right for small values. */
function referenceValue(content: Uint8Array): bigint {
  let value = 0n;
  for (const octet of content) value = (value << 8n) | BigInt(octet);
  return (content[0] ?? 0) & 0x80 ? value - (1n << BigInt(content.length * 8)) : value;
}

function referenceOctets(value: bigint): string {
  const octets: number[] = [];
  for (let v = value; ;) {
    const octet = Number(v & 0xffn);
    octets.push(octet);
    v >>= 8n;
    if ((v === 0n && !(octet & 0x80)) || (v === -1n && octet & 0x80)) break;
  }
  return Buffer.from(octets.reverse()).toString('hex');
}

/** A bigint of up to `bits` random bits, either sign; seeded so that a failure repeats. */
function* values(count: number, bits: number): Generator<bigint> {
  let seed = 0x2545f491;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < count; i++) {
    let value = 0n;
    const length = Math.floor(random() * bits);
    for (let bit = 0; bit < length; bit++) value = (value << 1n) | (random() < 0.5 ? 1n : 0n);
    yield random() < 0.5 ? value : -value;
  }
}

describe('INTEGER contents', () => {
  const edges = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, -256n, -257n, 2n ** 63n];

  it('are the fewest two’s-complement octets, as X.690 8.3 defines them', () => {
    for (const value of [...edges, ...values(2_000, 300)])
      expect(Buffer.from(twosComplementOctets(value)).toString('hex')).toBe(referenceOctets(value));
  });

  it('read back as the value they were written from', () => {
    for (const value of [...edges, ...values(2_000, 300)])
      expect(twosComplementValue(twosComplementOctets(value))).toBe(value);
    for (const hex of ['ff', '80', '7f', 'ff7f', '0080', '8000000000000000'])
      expect(twosComplementValue(Buffer.from(hex, 'hex'))).toBe(
        referenceValue(Buffer.from(hex, 'hex')),
      );
  });

  it('of 200 KB are read and written whole (a hostile nonce or status)', () => {
    const content = Buffer.alloc(200_000, 0x5a);
    const value = twosComplementValue(content);
    expect(value).toBe(BigInt(`0x${content.toString('hex')}`));
    expect(Buffer.from(twosComplementOctets(value)).equals(content)).toBe(true);
  });
});

describe('OBJECT IDENTIFIER contents', () => {
  it('split the first subidentifier in two arcs (X.690 8.19.4)', () => {
    expect(dottedOid(Buffer.from('2a864886f70d010101', 'hex'))).toBe('1.2.840.113549.1.1.1');
    expect(dottedOid(Buffer.from('00', 'hex'))).toBe('0.0');
    expect(dottedOid(Buffer.from('4f', 'hex'))).toBe('1.39');
    expect(dottedOid(Buffer.from('50', 'hex'))).toBe('2.0');
    expect(dottedOid(Buffer.from('8837', 'hex'))).toBe('2.999');
  });

  it('read arcs past 2^53 exactly, the first arc included', () => {
    // 2^64 in base 128: 82 80 80 80 80 80 80 80 80 00.
    const twoTo64 = Buffer.from('82808080808080808000', 'hex');
    expect(dottedOid(Buffer.concat([Buffer.from('2a', 'hex'), twoTo64]))).toBe(`1.2.${2n ** 64n}`);
    expect(dottedOid(twoTo64)).toBe(`2.${2n ** 64n - 80n}`);
  });

  it('read an arc of 100 KB whole', () => {
    const arc = Buffer.alloc(100_000, 0xff);
    arc[arc.length - 1] = 0x7f;
    const dotted = dottedOid(Buffer.concat([Buffer.from('2a', 'hex'), arc])) ?? '';
    expect(BigInt(dotted.split('.')[2] ?? '')).toBe(2n ** 700_000n - 1n);
  });

  it('split a first subidentifier padded past 7 octets (BER, not DER) as its value says', () => {
    expect(dottedOid(Buffer.from('80808080808080802a', 'hex'))).toBe('1.2');
  });

  it('are undefined when empty or cut inside a subidentifier', () => {
    expect(dottedOid(Buffer.alloc(0))).toBeUndefined();
    expect(dottedOid(Buffer.from('2a86', 'hex'))).toBeUndefined();
  });
});
