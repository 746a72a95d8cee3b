import { startFakeAwsKms } from '../fakes/aws-kms.js';

/** A started fake AWS KMS (test/fakes/aws-kms.ts). */
export type FakeAwsKms = Awaited<ReturnType<typeof startFakeAwsKms>>;

/**
 * The credentials and region the AWS SDK reads from the environment before any call, fake: the
 * fakes check no signature (kms-aws.test.ts reads the key ID back from a Sign call's header).
 */
export const FAKE_AWS_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDFAKEFORTESTS',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_REGION: 'us-east-1',
} as const;

/**
 * FAKE_AWS_CREDENTIALS and the SDK's own KMS endpoint override, AWS_ENDPOINT_URL_KMS, aimed at
 * `endpoint` (a fake's origin; '' for none, where the key URI names the endpoint): the environment
 * of a server a test spawns, or of this process (aimAwsSdkAt).
 */
export function awsKmsEnvironment(endpoint: string) {
  return { ...FAKE_AWS_CREDENTIALS, AWS_ENDPOINT_URL_KMS: endpoint };
}

/** The variables awsKmsEnvironment sets, for a file's restoreEnvAfterAll or restoreEnvAfterEach. */
export const AWS_KMS_VARIABLES = Object.keys(awsKmsEnvironment('')) as readonly string[];

/**
 * Aims this process's AWS SDK at `endpoint` (awsKmsEnvironment). The variables stay set: a file
 * that must give them back lists AWS_KMS_VARIABLES in restoreEnvAfterAll (test/helpers/env.ts).
 */
export function aimAwsSdkAt(endpoint: string): void {
  Object.assign(process.env, awsKmsEnvironment(endpoint));
}

/** A fake AWS KMS on 127.0.0.1 with this process's AWS SDK aimed at it (aimAwsSdkAt). */
export async function startFakeAwsKmsForSdk(
  options?: Parameters<typeof startFakeAwsKms>[0],
): Promise<FakeAwsKms> {
  const fake = await startFakeAwsKms(options);
  aimAwsSdkAt(fake.origin);
  return fake;
}
