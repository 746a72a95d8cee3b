import { describe, expect, it } from 'vitest';
import {
  describeServiceError,
  MAX_EXCERPT,
  serviceTextExcerpt,
} from '../../../../src/signers/kms/failure-reason.js';

const AWS = { name: 'AWS KMS', override: 'AWS_ENDPOINT_URL_KMS' };

describe('serviceTextExcerpt', () => {
  it('keeps a short text, escapes control characters and line separators', () => {
    expect(serviceTextExcerpt('plain')).toBe('plain');
    expect(serviceTextExcerpt('a\r\nb\tc\x1b[31md\x7f\x9b\u2028e')).toBe(
      'a\\x0d\\x0ab\\x09c\\x1b[31md\\x7f\\x9b\\u2028e',
    );
  });

  it('cuts at the limit, the ellipsis and the escapes included', () => {
    const cut = serviceTextExcerpt('x'.repeat(300_000));
    expect(cut).toHaveLength(MAX_EXCERPT);
    expect(cut.endsWith('x…')).toBe(true);
    // An escape is never cut in half.
    const escapes = serviceTextExcerpt('\n'.repeat(1000));
    expect(escapes.length).toBeLessThanOrEqual(MAX_EXCERPT);
    expect(escapes).toMatch(/^(\\x0a)+…$/);
    expect(serviceTextExcerpt('abcdef', 4)).toBe('abc…');
  });
});

describe('describeServiceError', () => {
  it('an HTTP answer the SDK could not parse: the status, its type, the first line of the message', () => {
    const error = Object.assign(
      new SyntaxError(
        `Unexpected token '<', "<html><bod"... is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.`,
      ),
      { $metadata: { httpStatusCode: 502 } },
    );
    Object.defineProperty(error, '$response', {
      value: { statusCode: 502, headers: { 'content-type': 'text/html' } },
    });
    expect(describeServiceError(error, AWS)).toBe(
      `AWS KMS answered HTTP 502 (text/html): SyntaxError: Unexpected token '<', "<html><bod"... is not valid JSON (endpoint override: AWS_ENDPOINT_URL_KMS)`,
    );
  });

  it("a body that is not JSON is quoted instead of the SDK's message; a 2xx is an answer it could not read", () => {
    const answer = { status: 200, contentType: 'text/html', body: '<p>\r\nmaintenance</p>' };
    expect(
      describeServiceError(new TypeError("Cannot read properties of undefined (reading 'kid')"), {
        name: 'Azure Key Vault',
      }),
    ).toBe(
      "Azure Key Vault call failed: TypeError: Cannot read properties of undefined (reading 'kid')",
    );
    expect(
      describeServiceError(
        new TypeError("Cannot read properties of undefined (reading 'kid')"),
        { name: 'Azure Key Vault' },
        answer,
      ),
    ).toBe(
      'Azure Key Vault answered HTTP 200 (text/html), an answer the SDK could not read: "<p>\\x0d\\x0amaintenance</p>"',
    );
  });

  it('the status of the error comes before the answer seen, and a JSON body is not quoted', () => {
    const error = Object.assign(new Error('Unexpected status code: 500'), {
      name: 'RestError',
      statusCode: 500,
    });
    Object.defineProperty(error, 'response', {
      value: {
        headers: { get: (name: string) => (name === 'content-type' ? 'application/json' : '') },
        bodyAsText: '{"error":{"code":"InternalError"}}',
      },
    });
    expect(describeServiceError(error, { name: 'Azure Key Vault' }, { status: 200 })).toBe(
      'Azure Key Vault answered HTTP 500 (application/json): RestError: Unexpected status code: 500',
    );
  });

  it('gRPC: a refusal is an answer, a failed connection or a deadline is not', () => {
    const gcp = { name: 'Cloud KMS', override: 'GCP_KMS_ENDPOINT' };
    const denied = Object.assign(new Error('7 PERMISSION_DENIED: denied on the key'), { code: 7 });
    expect(describeServiceError(denied, gcp)).toBe(
      'Cloud KMS answered 7 PERMISSION_DENIED: denied on the key (endpoint override: GCP_KMS_ENDPOINT)',
    );
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: 14,
    });
    expect(describeServiceError(unavailable, { name: 'Cloud KMS' })).toBe(
      'Cloud KMS call failed: 14 UNAVAILABLE: No connection established',
    );
  });

  it('never quotes the fields an SDK copies from the answer onto its error', () => {
    const error = Object.assign(new Error('UnknownError'), {
      name: 'Unknown',
      $metadata: { httpStatusCode: 500 },
      leaked: 'FIELD-FROM-THE-ANSWER',
    });
    const described = describeServiceError(error, AWS);
    expect(described).toBe(
      'AWS KMS answered HTTP 500: UnknownError (endpoint override: AWS_ENDPOINT_URL_KMS)',
    );
    expect(described).not.toContain('FIELD-FROM-THE-ANSWER');
  });
});
