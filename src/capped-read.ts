/**
 * Collects `source`'s bytes, stopping once they exceed `limit`: throws `tooLarge()` then, and the
 * loop's exit ends the source (a fetch body is cancelled, a file stream destroyed). For what a
 * peer or a path supplies and must not fill memory: an HTTP answer, a file named by a flag.
 */
export async function collectCapped(
  source: AsyncIterable<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
