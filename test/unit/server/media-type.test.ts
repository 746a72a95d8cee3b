import { describe, expect, it } from 'vitest';
import { accepts } from '../../../src/server/media-type.js';

const PEM_CHAIN = 'application/pem-certificate-chain';

describe('Accept admits a media type', () => {
  it.each([
    undefined,
    '',
    PEM_CHAIN,
    'Application/PEM-Certificate-Chain',
    '*/*',
    'application/*',
    'text/html, application/pem-certificate-chain;q=0.9',
    `${PEM_CHAIN} ; q = 0.5`,
    `${PEM_CHAIN};q=1.000`,
    `${PEM_CHAIN};q=0.001`,
    // The most specific range decides (RFC 9110 section 12.5.1), whatever the wider ones say.
    `*/*;q=0, ${PEM_CHAIN}`,
    `application/*;q=0, ${PEM_CHAIN};q=0.1`,
    `*/*;q=0, application/*`,
    // A range whose q does not parse is skipped.
    `${PEM_CHAIN};q=2, */*`,
    // Java 8's HttpURLConnection default: a q without its leading 0, read as go-openapi reads it.
    'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2',
  ])('admits it for %j', (accept) => expect(accepts(accept, PEM_CHAIN)).toBe(true));

  it.each([
    'application/json',
    'text/*',
    `${PEM_CHAIN};q=0`,
    `${PEM_CHAIN};q=0.000`,
    `${PEM_CHAIN}; q = 0`,
    `${PEM_CHAIN};Q=0`,
    `${PEM_CHAIN};q=0, */*`,
    `${PEM_CHAIN};q=0, application/*`,
    `application/*;q=0, */*`,
    '*/*;q=0',
    `${PEM_CHAIN};q=abc`,
    `${PEM_CHAIN};q=.`,
    `*/*;q=.0`,
    `${PEM_CHAIN}x`,
  ])('refuses it for %j', (accept) => expect(accepts(accept, PEM_CHAIN)).toBe(false));
});
