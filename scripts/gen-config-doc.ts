/**
 * Writes the option reference of docs/configuration.md from the option table (src/config/schema.ts),
 * between its config-options markers, so the prose around it stays hand-written.
 *
 *   npm run docs:config           rewrite docs/configuration.md
 *   npm run docs:config -- --check exit 1 when the committed file is not current
 *
 * test/unit/docs/config-reference.test.ts fails while the committed file differs from what this
 * makes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OptionSpec } from '../src/config/option-spec.js';
import { formatDefault } from '../src/config/print-config.js';
import { SERVE_OPTIONS } from '../src/config/schema.js';

export const CONFIG_DOC = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'docs',
  'configuration.md',
);
export const START = '<!-- config-options:start -->';
export const END = '<!-- config-options:end -->';

/** What src/config/environment.ts reads for an option: FLAG_NAME, Go's FLAG-NAME, extra names. */
export function environmentNames(spec: OptionSpec<unknown>): string[] {
  const flags = [spec.flag, ...(spec.aliases ?? [])];
  const names = [
    ...flags.flatMap((flag) => [flag.toUpperCase().replaceAll('-', '_'), flag.toUpperCase()]),
    ...(spec.env ?? []),
  ];
  return [...new Set(names)];
}

const code = (text: string) => `\`${text}\``;
/** A table cell: pipes escaped, so a description cannot break the row. */
const cell = (text: string) => text.replaceAll('|', '\\|');

function type(spec: OptionSpec<unknown>): string {
  if (spec.choices) return `one of ${spec.choices.map(code).join(', ')}`;
  switch (spec.kind) {
    case 'duration':
      return 'duration (`30s`, `1m30s`)';
    case 'size':
      return 'bytes (`16384`, `64k`, `1MB`)';
    case 'list':
      return 'list (comma-separated, or a YAML list)';
    default:
      return spec.kind;
  }
}

function defaultValue(spec: OptionSpec<unknown>): string {
  if (spec.default === undefined) return '(not set)';
  const shown = formatDefault(spec);
  return shown === undefined ? '(empty)' : code(shown);
}

/** The generated part of docs/configuration.md, markers included. */
export function configReference(): string {
  const rows = Object.values(SERVE_OPTIONS as Record<string, OptionSpec<unknown>>).map((spec) => {
    const flags = [spec.flag, ...(spec.aliases ?? [])];
    const description = spec.secret
      ? `${spec.description}. Secret: masked by \`--print-config\`, never logged`
      : spec.description;
    return [
      flags.map((flag) => code(`--${flag}`)).join(', '),
      environmentNames(spec).map(code).join(', '),
      flags.map(code).join(', '),
      type(spec),
      defaultValue(spec),
      description,
    ]
      .map(cell)
      .join(' | ');
  });
  return [
    START,
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    '| flag | environment | config file key | type | default | meaning |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
    END,
  ].join('\n');
}

/** The file with its generated part replaced; throws when the markers are missing. */
export function withReference(document: string): string {
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${CONFIG_DOC} lacks the ${START} markers`);
  return document.slice(0, start) + configReference() + document.slice(end + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(CONFIG_DOC, 'utf8');
  const generated = withReference(current);
  if (process.argv.includes('--check')) {
    if (current !== generated) {
      console.error(`${CONFIG_DOC} is not current: run npm run docs:config`);
      process.exit(1);
    }
  } else if (current !== generated) {
    writeFileSync(CONFIG_DOC, generated);
    console.log(`wrote ${CONFIG_DOC}`);
  }
}
