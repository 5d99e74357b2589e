import { progressPrinter } from '../../src/cli/progress.ts';
import { clusterConfig } from '../../src/cluster/config.ts';
import { clusterUp } from '../../src/cluster/lifecycle.ts';

/**
 * Runs once per `node --test` run, before any test file: brings the shared local
 * cluster up (a no-op when it is already running). It is left running afterwards
 * so the next run starts instantly; `kanary cluster down` stops it.
 */
export async function globalSetup(): Promise<void> {
  await clusterUp(clusterConfig(), { progress: progressPrinter(), timeoutSeconds: 180 });
}
