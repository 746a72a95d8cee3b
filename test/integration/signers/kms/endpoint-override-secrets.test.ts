import { afterAll, describe, expect, it } from 'vitest';
import { createKmsSigner } from '../../../../src/signers/kms/create-kms-signer.js';
import { createAwsKmsApi, parseAwsKmsUri } from '../../../../src/signers/kms/aws.js';
import { openKek } from '../../../../src/signers/tink/open-kek.js';
import { restoreEnvAfterEach } from '../../../helpers/env.js';
import { failureOf, shownError } from '../../../helpers/errors.js';
import { FAKE_AWS_CREDENTIALS } from '../../../helpers/fake-aws-kms.js';

/**
 * An endpoint override that does not parse reached `new URL` (GCP_KMS_ENDPOINT) or the AWS SDK
 * (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL): start-up failed with `Invalid URL`, naming no
 * variable, and the error's `input` field, which the debug log's start-up failure line prints,
 * quoted the value, password and all. Each is refused naming the variable, as VAULT_ADDR is,
 * never quoting its value. In process: no call leaves it (the refusal comes first).
 */
const SECRET = 'PLANTED_S3CRET_42';
const VARIABLES = [
  'GCP_KMS_ENDPOINT',
  'METADATA_SERVER_DETECTION',
  'AWS_ENDPOINT_URL_KMS',
  'AWS_ENDPOINT_URL',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
] as const;
restoreEnvAfterEach(VARIABLES);
afterAll(() => {
  for (const name of VARIABLES) delete process.env[name];
});

/** The values refused, and the start of the message each gets (after the variable's name). */
const REFUSED: [string, string][] = [
  [`http://u:${SECRET}@[x`, 'is not a URL such as'],
  [`http://u:${SECRET}@127.0.0.1:9`, 'must not hold credentials (user:password@)'],
  [`http://127.0.0.1:9/?token=${SECRET}`, 'must not have a query or a fragment'],
  [`ftp://127.0.0.1/${SECRET}`, 'must be an http:// or https:// URL'],
];

const GCP_KEY = 'projects/p/locations/global/keyRings/r/cryptoKeys/k';
const AWS_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const SIGNERS: [string, string, () => Promise<unknown>][] = [
  ['GCP_KMS_ENDPOINT', 'gcpkms://', () => createKmsSigner(`gcpkms://${GCP_KEY}`, 'auto')],
  ['GCP_KMS_ENDPOINT', 'gcp-kms://', () => openKek(`gcp-kms://${GCP_KEY}`, {})],
  ['AWS_ENDPOINT_URL_KMS', 'awskms://', () => createKmsSigner('awskms:///alias/tsa', 'auto')],
  ['AWS_ENDPOINT_URL_KMS', 'aws-kms://', () => openKek(`aws-kms://${AWS_KEY_ARN}`, {})],
  ['AWS_ENDPOINT_URL', 'awskms://', () => createKmsSigner('awskms:///alias/tsa', 'auto')],
  ['AWS_ENDPOINT_URL', 'aws-kms://', () => openKek(`aws-kms://${AWS_KEY_ARN}`, {})],
];

describe('endpoint override variables', () => {
  it.each(SIGNERS)(
    '%s for %s: refused naming the variable, its value never shown',
    async (variable, _scheme, start) => {
      Object.assign(process.env, { METADATA_SERVER_DETECTION: 'none', ...FAKE_AWS_CREDENTIALS });
      for (const [value, problem] of REFUSED) {
        process.env[variable] = value;
        const error = await failureOf(start);
        expect(error).toMatchObject({ code: 'INVALID_ENDPOINT' });
        expect(error.message).toMatch(new RegExp(`^${variable} ${escape(problem)}`));
        expect(shownError(error)).not.toContain(SECRET);
      }
    },
  );

  it('the endpoint of an awskms:// URI: checked as the variables are, naming --kms-key-resource, before the SDK sees it', async () => {
    // For callers that build the signer without checkSignerOptions: the endpoint reached the SDK,
    // which dropped a query or a fragment, and failed at its first call on one that did not parse.
    Object.assign(process.env, FAKE_AWS_CREDENTIALS);
    for (const [endpoint, problem] of [
      [`u:${SECRET}@127.0.0.1:9`, 'must not hold credentials (user:password@)'],
      [`127.0.0.1:9?token=${SECRET}`, 'must not have a query or a fragment'],
      [`127.0.0.1:9#${SECRET}`, 'must not have a query or a fragment'],
      [`u:${SECRET}@[x`, 'is not a URL such as'],
      [`ht tp${SECRET}`, 'is not a URL such as'],
    ] as const) {
      const error = await failureOf(() => createAwsKmsApi(`awskms://${endpoint}/alias/tsa`));
      expect(error).toMatchObject({ code: 'INVALID_KEY_URI' });
      expect(error.message).toMatch(
        new RegExp(`^the endpoint of --kms-key-resource ${escape(problem)}`),
      );
      expect(shownError(error)).not.toContain(SECRET);
    }
    // host:port without a scheme stays sigstore's: https to it.
    expect(parseAwsKmsUri('awskms://localhost:4566/alias/tsa')).toEqual({
      endpoint: 'https://localhost:4566',
      keyId: 'alias/tsa',
    });
  });

  it('AWS_ENDPOINT_URL_KMS comes before AWS_ENDPOINT_URL, and neither counts when the SDK ignores them or the URI names an endpoint', async () => {
    Object.assign(process.env, { AWS_REGION: 'us-east-1' });
    process.env['AWS_ENDPOINT_URL_KMS'] = 'http://127.0.0.1:4566';
    process.env['AWS_ENDPOINT_URL'] = `http://[${SECRET}`;
    // The SDK reads AWS_ENDPOINT_URL_KMS: AWS_ENDPOINT_URL is not its business.
    await (await createAwsKmsApi('awskms:///alias/tsa')).close?.();
    process.env['AWS_ENDPOINT_URL_KMS'] = `http://[${SECRET}`;
    await expect(createAwsKmsApi('awskms:///alias/tsa')).rejects.toThrow(
      /^AWS_ENDPOINT_URL_KMS is not a URL/,
    );
    await (await createAwsKmsApi('awskms://127.0.0.1:4566/alias/tsa')).close?.();
    process.env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] = 'true';
    await (await createAwsKmsApi('awskms:///alias/tsa')).close?.();
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
