import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HostileRequest {
  name: string;
  contentType: string | null;
  body: { hex: string; repeat?: number }[];
  expect: { status: number; failInfo?: string | null; jsonCode?: number };
}

/** test/fixtures/hostile/index.json (made by make-catalogue.ts). */
export const catalogue: HostileRequest[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'hostile', 'index.json'), 'utf8'),
) as HostileRequest[];

export function bodyOf(entry: HostileRequest): Buffer {
  return Buffer.concat(
    entry.body.map((part) => {
      const bytes = Buffer.from(part.hex, 'hex');
      return part.repeat === undefined ? bytes : Buffer.alloc(bytes.length * part.repeat, bytes);
    }),
  );
}
