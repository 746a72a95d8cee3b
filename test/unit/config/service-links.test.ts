import { describe, expect, it } from 'vitest';
import { configRefusal, loadFromEnvAndFile } from '../../helpers/config-layers.js';

/** What Kubernetes sets in a pod for Services named `metrics` and `tls`, and Docker for a link. */
const LINKS = {
  METRICS_PORT: 'tcp://10.0.0.5:2112',
  METRICS_PORT_2112_TCP: 'tcp://10.0.0.5:2112',
  METRICS_SERVICE_HOST: '10.0.0.5',
  TLS_PORT: 'udp://10.0.0.6:53',
};

describe('a service link in a *_PORT variable', () => {
  it('is ignored with one warning per variable, naming it and why, never its address', () => {
    const { config, warnings } = loadFromEnvAndFile(LINKS);
    expect([config.metricsPort, config.tlsPort]).toEqual([2112, 3443]);
    // In the order of the options: --tls-port, then --metrics-port.
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(
      /^environment: METRICS_PORT is ignored for --metrics-port: it holds a service link's address .*a Service named "metrics".*enableServiceLinks: false/,
    );
    expect(warnings[0]).toMatch(/^environment: TLS_PORT is ignored for --tls-port: .*"tls"/);
    expect(warnings.join('\n')).not.toMatch(/10\.0\.0|:2112|:53/);
  });

  it('leaves the option to its other names and to the config file, with no override warning', () => {
    const fromDashed = loadFromEnvAndFile({ ...LINKS, 'METRICS-PORT': '9090' });
    expect(fromDashed.config.metricsPort).toBe(9090);
    const fromFile = loadFromEnvAndFile(LINKS, 'metrics-port: 9091\n');
    expect(fromFile.config.metricsPort).toBe(9091);
    expect(fromFile.warnings.filter((line) => line.includes('overrides'))).toEqual([]);
  });

  it('is told from a bad port: another value still stops start-up', () => {
    expect(
      configRefusal(() => loadFromEnvAndFile({ METRICS_PORT: 'http://10.0.0.5:2112' })).message,
    ).toMatch(/^environment: invalid value for METRICS_PORT/);
  });
});
