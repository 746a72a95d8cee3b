/**
 * Service links: Kubernetes gives every pod `<SERVICE>_PORT=tcp://10.0.0.5:2112` for each Service
 * of its namespace (Docker for each `--link`), so a Service named `metrics` or `tls` sets
 * METRICS_PORT or TLS_PORT, which this server reads as its own options.
 */

/** The protocols of a link's address: Kubernetes' (tcp, udp, sctp) and Docker's. */
const LINK_ADDRESS = /^(tcp|udp|sctp):\/\//i;

/** Whether `variable` holds a service link's address, not an option's value. */
export function isServiceLink(variable: string, value: string): boolean {
  return variable.endsWith('_PORT') && LINK_ADDRESS.test(value);
}

/** Why `variable` is ignored, naming the Service; not its value, which is no port. */
export function serviceLinkWarning(variable: string, flag: string): string {
  const service = variable.slice(0, -'_PORT'.length).toLowerCase().replaceAll('_', '-');
  return `environment: ${variable} is ignored for --${flag}: it holds a service link's address (tcp://, udp://), which Kubernetes sets for a Service named "${service}" and Docker for a link, not a port; set enableServiceLinks: false in the pod spec, or give --${flag} as a flag, a dashed variable or in the config file`;
}
