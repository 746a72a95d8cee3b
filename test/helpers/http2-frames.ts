/** Raw HTTP/2 frames, for tests that must send what Node's own client would not. */
import { connect as connectTls, type TLSSocket } from 'node:tls';

/** A TLS connection to `url` that negotiated h2, on which a test writes raw HTTP/2 frames. */
export function openH2Socket(url: string, ca: string | Buffer): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: hostname, port: Number(port), ca, ALPNProtocols: ['h2'] });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export const FRAME = { headers: 0x1, rstStream: 0x3, settings: 0x4, continuation: 0x9 } as const;
/** ack is SETTINGS' and PING's flag, endStream that of HEADERS and DATA. */
export const FLAG = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;
/** SETTINGS_MAX_FRAME_SIZE until the peer says otherwise (RFC 9113 section 6.5.2). */
const DEFAULT_MAX_FRAME_SIZE = 16_384;

/** One HTTP/2 frame (RFC 9113 section 4.1). */
export function http2Frame(
  type: number,
  flags: number,
  streamId: number,
  payload: readonly number[] | Uint8Array,
): Buffer {
  const frame = Buffer.alloc(9 + payload.length);
  frame.writeUIntBE(payload.length, 0, 3);
  frame.writeUInt8(type, 3);
  frame.writeUInt8(flags, 4);
  frame.writeUInt32BE(streamId, 5);
  Buffer.from(payload).copy(frame, 9);
  return frame;
}

/** An HPACK integer with an N-bit prefix (RFC 7541 section 5.1), the prefix bits zero. */
function hpackInteger(value: number, prefixBits: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [value];
  const octets = [max];
  let rest = value - max;
  while (rest >= 128) {
    octets.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  octets.push(rest);
  return octets;
}

/** The frames in `bytes` (RFC 9113 section 4.1): type, stream and payload of each. */
export function framesIn(bytes: Buffer): { type: number; streamId: number; payload: Buffer }[] {
  const frames = [];
  for (let at = 0; at + 9 <= bytes.length;) {
    const length = bytes.readUIntBE(at, 3);
    frames.push({
      type: bytes[at + 3] ?? 0,
      streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff,
      payload: bytes.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length;
  }
  return frames;
}

/** A literal field without indexing, new name, no Huffman coding (RFC 7541 section 6.2.2). */
export function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.of(0x00, ...hpackInteger(name.length, 7)),
    Buffer.from(name, 'latin1'),
    Buffer.of(...hpackInteger(value.length, 7)),
    Buffer.from(value, 'latin1'),
  ]);
}

/** `GET https://tsa<path>`: :method GET and :scheme https indexed, :authority and :path literal. */
export function hpackGet(path: string): Buffer {
  const authority = 'tsa';
  return Buffer.of(
    0x82,
    0x87,
    0x01,
    ...hpackInteger(authority.length, 7),
    ...Buffer.from(authority),
    0x04,
    ...hpackInteger(path.length, 7),
    ...Buffer.from(path),
  );
}

/** A header block as HEADERS and CONTINUATION frames of at most 16 KiB, ending the stream. */
export function headerBlockFrames(streamId: number, block: Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let offset = 0; offset === 0 || offset < block.length; offset += DEFAULT_MAX_FRAME_SIZE) {
    const chunk = block.subarray(offset, offset + DEFAULT_MAX_FRAME_SIZE);
    const last = offset + DEFAULT_MAX_FRAME_SIZE >= block.length;
    frames.push(
      offset === 0
        ? http2Frame(FRAME.headers, FLAG.endStream | (last ? FLAG.endHeaders : 0), streamId, chunk)
        : http2Frame(FRAME.continuation, last ? FLAG.endHeaders : 0, streamId, chunk),
    );
  }
  return Buffer.concat(frames);
}
