import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import { createMemoryKeyMaterial } from '../../../src/signers/memory.js';

it("gives the chain Go's validities: calendar years (now.AddDate), not 365-day ones", async () => {
  const now = new Date('2027-03-01T12:34:56Z');
  const { chain } = await createMemoryKeyMaterial(now);
  const [leaf, intermediate, root] = chain.map((der) => new X509Certificate(der));
  const validity = (certificate: X509Certificate | undefined) => [
    new Date(certificate?.validFrom ?? '').toISOString(),
    new Date(certificate?.validTo ?? '').toISOString(),
  ];
  expect(validity(leaf)).toEqual(['2027-03-01T12:31:56.000Z', '2036-03-01T12:34:56.000Z']);
  expect(validity(intermediate)).toEqual(['2027-03-01T12:29:56.000Z', '2037-03-01T12:34:56.000Z']);
  expect(validity(root)).toEqual(['2027-03-01T12:29:56.000Z', '2037-03-01T12:34:56.000Z']);
});
