/**
 * DER (or BER with liberties) as a tree of TLVs, for tests that edit an encoding in place: parse,
 * change a node, encode again. Single-octet tags only (every tag of a time-stamp token).
 */

/** A TLV: a primitive's content, a constructed element's children. */
export interface TlvNode {
  tag: number;
  content?: Buffer;
  children?: TlvNode[];
  /** Extra leading zero octets in a long-form length (BER allows them, DER does not). */
  lengthPadding?: number;
}

/** The TLVs of `bytes`, one after another, each constructed one parsed into its children. */
export function parseTlvs(bytes: Buffer): TlvNode[] {
  const nodes: TlvNode[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset++] as number;
    let length = bytes[offset++] as number;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = bytes.readUIntBE(offset, count);
      offset += count;
    }
    const content = bytes.subarray(offset, offset + length);
    offset += length;
    nodes.push(tag & 0x20 ? { tag, children: parseTlvs(content) } : { tag, content });
  }
  return nodes;
}

/** `node` encoded: minimal lengths (DER) unless the node asks for padding. */
export function encodeTlv(node: TlvNode): Buffer {
  const content = node.children ? Buffer.concat(node.children.map(encodeTlv)) : node.content!;
  const n = content.length;
  let length: Buffer;
  if (n < 0x80 && !node.lengthPadding) length = Buffer.from([n]);
  else {
    const digits = Buffer.from(
      n.toString(16).padStart(2 * Math.ceil(n.toString(16).length / 2), '0'),
      'hex',
    );
    const octets = Buffer.concat([Buffer.alloc(node.lengthPadding ?? 0), digits]);
    length = Buffer.concat([Buffer.from([0x80 | octets.length]), octets]);
  }
  return Buffer.concat([Buffer.from([node.tag]), length, content]);
}
