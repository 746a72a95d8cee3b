/**
 * Variables the server reads besides its options' (optionVariables): libpq's PG* defaults (pg),
 * the cloud SDKs' and the KEK and KMS endpoint overrides (src/signers), and NODE_OPTIONS.
 */
export const READ_BY_THE_SERVER =
  /^(PG[A-Z]+|AWS_\w+|GOOGLE_\w+|GCP_KMS_ENDPOINT|AZURE_\w+|VAULT_\w+|TINK_HCVAULT_ADDR|TRANSIT_SECRET_ENGINE_PATH|NODE_OPTIONS)$/;
