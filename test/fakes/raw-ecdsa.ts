import { randomBytes, type KeyObject } from 'node:crypto';

/**
 * ECDSA over a given digest (FIPS 186-5 §6.4.1), in-process: what a KMS does with a digest, and
 * what Node's crypto cannot do (it always hashes first). The fakes used to run `openssl pkeyutl`
 * per signature, whose process start made a normal call miss short deadlines on a busy machine.
 * Test code only: not constant-time. Tokens signed with it are verified by openssl in the tests.
 */
interface Curve {
  p: bigint;
  n: bigint;
  g: readonly [bigint, bigint];
  size: number;
}

const CURVES: Record<string, Curve> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    g: [
      0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
      0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    ],
    size: 32,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    g: [
      0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
      0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    ],
    size: 48,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    g: [
      0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
      0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    ],
    size: 66,
  },
};

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [low, high, x0, x1] = [mod(a, m), m, 1n, 0n];
  while (low > 1n) {
    const q = high / low;
    [low, high] = [high - q * low, low];
    [x0, x1] = [x1 - q * x0, x0];
  }
  return mod(x0, m);
}

/** Jacobian coordinates (X, Y, Z); Z = 0 is the point at infinity. a = -3 on all three curves. */
type Point = readonly [bigint, bigint, bigint];

function double([x, y, z]: Point, p: bigint): Point {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const zz = (z * z) % p;
  const m = mod(3n * (x - zz) * (x + zz), p);
  const yy = (y * y) % p;
  const s = (4n * x * yy) % p;
  const x3 = mod(m * m - 2n * s, p);
  return [x3, mod(m * (s - x3) - 8n * yy * yy, p), (2n * y * z) % p];
}

function add(a: Point, b: Point, p: bigint): Point {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const z1z1 = (a[2] * a[2]) % p;
  const z2z2 = (b[2] * b[2]) % p;
  const u1 = (a[0] * z2z2) % p;
  const u2 = (b[0] * z1z1) % p;
  const s1 = (a[1] * b[2] * z2z2) % p;
  const s2 = (b[1] * a[2] * z1z1) % p;
  if (u1 === u2) return s1 === s2 ? double(a, p) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = (h * h) % p;
  const hhh = (h * hh) % p;
  const x3 = mod(r * r - hhh - 2n * u1 * hh, p);
  return [x3, mod(r * (u1 * hh - x3) - s1 * hhh, p), (a[2] * b[2] * h) % p];
}

function multiplyBase(k: bigint, curve: Curve): bigint {
  let result: Point = [0n, 1n, 0n];
  let addend: Point = [curve.g[0], curve.g[1], 1n];
  for (let bits = k; bits > 0n; bits >>= 1n) {
    if (bits & 1n) result = add(result, addend, curve.p);
    addend = double(addend, curve.p);
  }
  const zInverse = inverse(result[2], curve.p);
  return (result[0] * zInverse * zInverse) % curve.p;
}

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return derTlv(0x02, Buffer.from(hex, 'hex'));
}

function derTlv(tag: number, content: Buffer): Buffer {
  const length =
    content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x81, content.length]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

/** The DER Ecdsa-Sig-Value of `digest` under the EC `privateKey`, as a KMS returns it. */
export function signDigestEcdsa(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  const curve = CURVES[jwk.crv ?? ''];
  if (!curve || !jwk.d) throw new Error(`not an EC private key on P-256/P-384/P-521`);
  const d = toBigInt(Buffer.from(jwk.d, 'base64url'));
  // The leftmost bits of the digest, as many as the order has (FIPS 186-5 §6.4.1 step 4).
  const orderBits = curve.n.toString(2).length;
  let e = toBigInt(digest);
  const digestBits = digest.length * 8;
  if (digestBits > orderBits) e >>= BigInt(digestBits - orderBits);
  for (;;) {
    const k = mod(toBigInt(randomBytes(curve.size + 8)), curve.n - 1n) + 1n;
    const r = mod(multiplyBase(k, curve), curve.n);
    if (r === 0n) continue;
    const s = mod(inverse(k, curve.n) * (e + r * d), curve.n);
    if (s === 0n) continue;
    return derTlv(0x30, Buffer.concat([derInteger(r), derInteger(s)]));
  }
}
