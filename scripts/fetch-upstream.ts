/**
 * Downloads the upstream modules whose files the tests read (Argo Rollouts'
 * and Argo CD's manifests and testdata) into Go's module cache, verified by
 * the Go checksum database. `.ci/run` calls it before the tests; the tests
 * fetch on first use anyway.
 */
import { progressPrinter } from '../src/cli/progress.ts';
import { prefetchUpstream } from '../test/support/upstream.ts';

try {
  prefetchUpstream(progressPrinter());
} catch (err) {
  console.error(`fetch-upstream: ${(err as Error).message}`);
  process.exit(1);
}
