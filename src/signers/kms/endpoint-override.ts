import { serviceUrlProblem } from '../../config/service-url.js';
import { SignerError } from '../signer-error.js';

/**
 * The http(s) URL in `value`, which errors name `source` (a variable, a flag), never quoting it
 * (serviceUrlProblem says what is refused, and why). `refusal` makes the caller's error of a
 * message.
 */
export function checkedServiceUrl(
  value: string,
  source: string,
  options: { example: string; credentials: string },
  refusal: (message: string) => Error,
): URL {
  const problem = serviceUrlProblem(value, source, options);
  if (problem !== undefined) throw refusal(problem);
  return new URL(value);
}

/**
 * The endpoint in the override variable `variable` (GCP_KMS_ENDPOINT, AWS_ENDPOINT_URL_KMS...),
 * checked before any SDK sees it (checkedServiceUrl), as vaultAddress checks VAULT_ADDR.
 * `defaultScheme` is the one of a bare `host[:port]`, when it may be one.
 */
export function endpointFromVariable(
  variable: string,
  value: string,
  options: { example: string; defaultScheme?: 'https' },
): URL {
  const withScheme =
    options.defaultScheme && !value.includes('://') ? `${options.defaultScheme}://${value}` : value;
  return checkedServiceUrl(
    withScheme,
    variable,
    { example: options.example, credentials: "the SDK's own credentials authenticate" },
    (message) => new SignerError('INVALID_ENDPOINT', message),
  );
}

/**
 * The variable whose endpoint the AWS SDK will call KMS at, as @smithy/core reads them:
 * AWS_ENDPOINT_URL_KMS, else AWS_ENDPOINT_URL (empty ones skipped), none when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is `true`. (A profile's `endpoint_url` in ~/.aws/config is
 * the SDK's to read and report.)
 */
export function awsEndpointVariable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true') return undefined;
  return ['AWS_ENDPOINT_URL_KMS', 'AWS_ENDPOINT_URL'].find((name) => env[name]);
}

/**
 * Checks the AWS endpoint override the SDK would use, if any (none when the key URI names its own
 * endpoint, which comes first): an unparsable one reached the SDK, whose error said only
 * `Invalid URL`. Returns the variable, for the errors of the calls that go there.
 */
export function checkedAwsEndpointVariable(
  uriEndpoint: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (uriEndpoint) return undefined;
  const variable = awsEndpointVariable(env);
  if (variable)
    endpointFromVariable(variable, env[variable] ?? '', {
      example: 'https://kms.eu-west-1.amazonaws.com or http://127.0.0.1:4566',
    });
  return variable;
}
