import { aimAwsSdkAt } from '../helpers/fake-aws-kms.js';
import { startFakeAwsKms } from './aws-kms.js';
import { startFakeGcpKms } from './gcp-kms.js';
import { startFakeVault } from './vault-transit.js';

/** The three services a Tink keyset's KEK can live in, faked, and the environment aimed at them. */
export interface KekServices {
  aws: Awaited<ReturnType<typeof startFakeAwsKms>>;
  gcp: Awaited<ReturnType<typeof startFakeGcpKms>>;
  vault: Awaited<ReturnType<typeof startFakeVault>>;
  close(): Promise<void>;
}

/**
 * Starts fake AWS KMS, Cloud KMS and Vault transit servers on 127.0.0.1 and points the SDKs' and
 * Tink's environment variables at them (fake AWS credentials and region, no GCP metadata server;
 * the Tink AWS KEK takes its region from the key ARN).
 */
export async function startKekServices(vaultToken: string): Promise<KekServices> {
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  const [aws, gcp, vault] = await Promise.all([
    startFakeAwsKms(),
    startFakeGcpKms(),
    startFakeVault({ token: vaultToken }),
  ]);
  aimAwsSdkAt(aws.origin);
  process.env['GCP_KMS_ENDPOINT'] = gcp.endpoint;
  process.env['TINK_HCVAULT_ADDR'] = vault.origin;
  return {
    aws,
    gcp,
    vault,
    close: async () => {
      await Promise.all([aws.close(), gcp.close(), vault.close()]);
    },
  };
}
