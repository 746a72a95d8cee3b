#!/usr/bin/env bash
# Runs a test tier and ends with the plain "N passed, N failed" line CI reads. No arguments: the PR
# tier (vitest.config.ts); `--config vitest.slow.config.ts`: the slow tier. Other arguments go to vitest.
set -uo pipefail
results=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
rm -f "$results"
exit $status
