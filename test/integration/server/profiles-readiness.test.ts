/**
 * Readiness with profiles: 200 while at least one profile can issue, one line per profile; 503
 * when none can (each line says why) or while draining.
 */
import { describe, expect, it } from 'vitest';
import { resolveLayers } from '../../../src/config/resolve.js';
import { createAuthority } from '../../../src/runtime/serve.js';
import { buildServer } from '../../../src/server/app.js';
import { createServingState } from '../../../src/server/serving-state.js';
import type { IssuanceGuard } from '../../../src/tsp/guards.js';
import { reject } from '../../../src/tsp/rejection.js';
import { silentLogger } from '../../helpers/tsa.js';

const drifted: IssuanceGuard = () => reject.timeNotAvailable('clock drifted');

/** A server with the default profile and `second`, each refusing while its `down` says so. */
async function serverWith(down: { default: boolean; second: boolean }) {
  const config = resolveLayers([
    {
      source: 'test',
      values: {},
      profiles: [{ name: 'second', 'policy-oids': ['1.2.3.4.5'] }],
    },
  ]).config;
  const guard = (name: 'default' | 'second'): IssuanceGuard[] => (down[name] ? [drifted] : []);
  const first = await createAuthority(config, silentLogger, {}, guard('default'));
  const profile = config.profiles![0]!;
  const second = await createAuthority(config, silentLogger, {}, guard('second'), profile);
  const state = createServingState();
  const app = await buildServer({
    config,
    authority: first.authority,
    chainPem: first.chainPem,
    profiles: [
      {
        name: 'second',
        authority: second.authority,
        chainPem: second.chainPem,
        policies: second.acceptedPolicies,
        defaultPolicyOid: '1.2.3.4.5',
      },
    ],
    logger: silentLogger,
    state,
  });
  const get = async (url: string) => {
    const response = await app.inject({ method: 'GET', url });
    return { status: response.statusCode, body: response.body };
  };
  return { get, state };
}

describe('readiness with profiles', () => {
  it('stays ready while one profile can issue, naming the one that cannot', async () => {
    const { get } = await serverWith({ default: true, second: false });
    expect(await get('/readyz')).toEqual({
      status: 200,
      body: 'ok\ndefault: clock drifted\nsecond: ok',
    });
    expect((await get('/ping')).status).toBe(200);
  });

  it('is not ready when no profile can issue, or while draining', async () => {
    const { get } = await serverWith({ default: true, second: true });
    expect(await get('/readyz')).toEqual({
      status: 503,
      body: 'no profile can issue tokens\ndefault: clock drifted\nsecond: clock drifted',
    });
    expect(await get('/ping')).toEqual({ status: 503, body: 'no profile can issue tokens' });

    const ready = await serverWith({ default: false, second: false });
    ready.state.draining = true;
    expect(await ready.get('/readyz')).toEqual({
      status: 503,
      body: 'draining: the server is shutting down',
    });
  });
});
