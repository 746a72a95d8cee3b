/**
 * The numbers of DER contents, read and written in time linear in their length: a bigint built
 * octet by octet (`value << 8n | octet`, or taken apart by `>>= 8n`) copies itself at each step,
 * so a 150 KB INTEGER took 29 s to read and hung whatever read it (a hostile TSA's PKIStatus, a
 * token's nonce). Both DER codecs, the server's (asn1/der.ts) and the verifier's
 * (verify/der-node.ts), use these; neither checks the contents' shape here.
 */

/** An INTEGER's contents octets (two's complement, big-endian) as a bigint; 0n for none. */
export function twosComplementValue(content: Uint8Array): bigint {
  if (content.length === 0) return 0n;
  const hex = Buffer.from(content.buffer, content.byteOffset, content.length).toString('hex');
  const magnitude = BigInt(`0x${hex}`);
  return (content[0] as number) & 0x80 ? magnitude - (1n << BigInt(content.length * 8)) : magnitude;
}

/** The fewest two's-complement octets of `value` (an INTEGER's contents, X.690 8.3). */
export function twosComplementOctets(value: bigint): Uint8Array {
  // Octets enough for the bits of the value past its sign (those of ~value when negative), and
  // the sign bit.
  const bits = (value < 0n ? -value - 1n : value).toString(2).length;
  const octets = Math.floor(bits / 8) + 1;
  const unsigned = value < 0n ? (1n << BigInt(octets * 8)) + value : value;
  return Buffer.from(unsigned.toString(16).padStart(octets * 2, '0'), 'hex');
}

/** Octets of seven bits that fit a Number exactly (7 × 7 = 49 bits, under 2^53). */
const EXACT_OCTETS = 7;

/**
 * One OBJECT IDENTIFIER subidentifier (X.690 8.19.2): base-128 octets, the high bit of each set
 * but the last's. A Number while exact, else a bigint.
 */
export function base128Value(octets: Uint8Array): number | bigint {
  if (octets.length <= EXACT_OCTETS) {
    let value = 0;
    for (const octet of octets) value = value * 128 + (octet & 0x7f);
    return value;
  }
  let bits = '';
  for (const octet of octets) bits += (octet & 0x7f).toString(2).padStart(7, '0');
  return BigInt(`0b${bits}`);
}

/**
 * An OBJECT IDENTIFIER's contents as dotted text (X.690 8.19), or undefined where they are empty
 * or end inside a subidentifier. The first subidentifier holds two arcs: 40 × X + Y, X at most 2
 * (X.690 8.19.4).
 */
export function dottedOid(content: Uint8Array): string | undefined {
  const subidentifiers: (number | bigint)[] = [];
  let start = 0;
  for (let at = 0; at < content.length; at++) {
    if (((content[at] as number) & 0x80) !== 0) continue;
    subidentifiers.push(base128Value(content.subarray(start, at + 1)));
    start = at + 1;
  }
  const [first, ...rest] = subidentifiers;
  if (first === undefined || start !== content.length) return undefined;
  // A bigint is past 2^49, so past 80, unless padded with 0x80 octets (not DER, but read as BER).
  const head =
    typeof first === 'bigint'
      ? first < 80n
        ? [first / 40n, first % 40n]
        : [2n, first - 80n]
      : first < 80
        ? [Math.floor(first / 40), first % 40]
        : [2, first - 80];
  return [...head, ...rest].join('.');
}
