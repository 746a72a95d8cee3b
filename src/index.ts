/** The package entry for programs: the RFC 3161 verification library. */
export * from './verify/index.js';
