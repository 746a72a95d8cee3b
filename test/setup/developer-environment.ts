import { READ_BY_THE_SERVER } from '../helpers/server-variables.js';

/**
 * The code under test reads some variables in this very process (pg reads PGSSLMODE and PGHOST,
 * the cloud SDKs their credentials and endpoints): a developer's shell must not reach it, as it
 * does not reach spawned servers (childEnvironment). Tests that need one set it themselves.
 */
for (const name of Object.keys(process.env)) {
  if (READ_BY_THE_SERVER.test(name)) delete process.env[name];
}
