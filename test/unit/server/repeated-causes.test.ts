import { expect, it } from 'vitest';
import { RepeatedCauses, STACK_REPEAT_MS } from '../../../src/server/request-log.js';

it("logs a failure's stack once while its message repeats, again after STACK_REPEAT_MS", () => {
  let now = 0;
  const causes = new RepeatedCauses(() => now);
  const refused = () =>
    Object.assign(new Error('AWS KMS answered HTTP 403: AccessDeniedException'), {
      code: 'CLIENT_ERROR',
    });
  const first = refused();
  expect(causes.logged(first)).toBe(first);
  now += 12_000;
  const repeated = causes.logged(refused()) as Error & { code: string };
  expect(repeated).toBeInstanceOf(Error);
  expect(repeated).toMatchObject({
    message: 'AWS KMS answered HTTP 403: AccessDeniedException',
    code: 'CLIENT_ERROR',
    stack: 'Error: AWS KMS answered HTTP 403: AccessDeniedException\n    (stack logged 12 s ago)',
  });
  // Another message has its own stack.
  const other = new Error('connect ECONNREFUSED 127.0.0.1:443');
  expect(causes.logged(other)).toBe(other);
  now += STACK_REPEAT_MS;
  const later = refused();
  expect(causes.logged(later)).toBe(later);
  // Not an Error: as it is.
  expect(causes.logged('text')).toBe('text');
});

it('tells failures apart by their causes too, and keeps the causes in the shortened one', () => {
  let now = 0;
  const causes = new RepeatedCauses(() => now);
  const failed = (below: string) =>
    new Error('fetch failed', { cause: new Error(below, { cause: new Error('at the root') }) });
  const refused = failed('connect ECONNREFUSED 10.0.0.1:8200');
  expect(causes.logged(refused)).toBe(refused);
  const untrusted = failed('unable to verify the first certificate');
  expect(causes.logged(untrusted)).toBe(untrusted);
  now += 3_000;
  expect(causes.logged(failed('connect ECONNREFUSED 10.0.0.1:8200'))).toMatchObject({
    message: 'fetch failed: connect ECONNREFUSED 10.0.0.1:8200: at the root',
    stack:
      'Error: fetch failed: connect ECONNREFUSED 10.0.0.1:8200: at the root\n    (stack logged 3 s ago)',
    cause: undefined,
  });
});
