/**
 * docs/configuration.md's option reference is generated from the option table
 * (scripts/gen-config-doc.ts): it must be current, and name only what the server reads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_DOC,
  configReference,
  END,
  environmentNames,
  START,
} from '../../../scripts/gen-config-doc.js';
import type { OptionSpec } from '../../../src/config/option-spec.js';
import { readEnvironment } from '../../../src/config/environment.js';
import { SERVE_OPTIONS } from '../../../src/config/schema.js';

describe('docs/configuration.md', () => {
  it('holds the option reference of src/config/schema.ts (npm run docs:config rewrites it)', () => {
    const document = readFileSync(CONFIG_DOC, 'utf8');
    const start = document.indexOf(START);
    const end = document.indexOf(END);
    expect(start, 'docs/configuration.md has the config-options markers').toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    expect(
      document.slice(start, end + END.length),
      'run npm run docs:config to rewrite docs/configuration.md',
    ).toBe(configReference());
  });

  it('names for each option only environment variables the server reads for it', () => {
    for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [string, OptionSpec<unknown>][]) {
      for (const variable of environmentNames(spec)) {
        const read = readEnvironment({ [variable]: 'x' }).values;
        expect(Object.keys(read), `${variable} sets --${spec.flag}`).toEqual([name]);
      }
    }
  });
});
