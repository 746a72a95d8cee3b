import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ServerError } from './server-error.js';

export const OPENAPI_PATH = '/openapi.yaml';

/** openapi.yaml at the package root (above src/ when run from source, dist/src/ when built). */
function readSpec(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const path = join(dir, 'openapi.yaml');
    if (existsSync(path)) return readFileSync(path, 'utf8');
    if (dirname(dir) === dir)
      throw new ServerError('OPENAPI_NOT_FOUND', 'openapi.yaml not found above the server module');
  }
}

let spec: string | undefined;

/** Serves the OpenAPI 3.1 description of this server. */
export function registerOpenApi(app: FastifyInstance): void {
  spec ??= readSpec();
  const text = spec;
  app.get(OPENAPI_PATH, async (_request, reply) => reply.type('application/yaml').send(text));
}
