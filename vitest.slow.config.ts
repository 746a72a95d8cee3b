import { defineConfig } from 'vitest/config';
import { shared } from './vitest.config.js';

/**
 * The slow tier (`make test-slow`; CI runs it after `make test`): the Docker-build replay, the long
 * fuzz run, the benchmark and load-test smoke runs, the memory-growth rounds, with the same 300 s
 * hang guards as the PR tier.
 */
export default defineConfig({ test: { ...shared, include: ['test/slow/**/*.test.ts'] } });
