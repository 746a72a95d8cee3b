import { Writable } from 'node:stream';

/**
 * A destination that keeps what a logger writes: `chunks` exactly as written (a pino line each,
 * newline included), `lines()` split into lines, `records()` those lines parsed.
 */
export function logSink() {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const lines = () => chunks.join('').split('\n').filter(Boolean);
  return {
    sink,
    chunks,
    lines,
    records: <R = Record<string, unknown>>() => lines().map((line) => JSON.parse(line) as R),
  };
}
