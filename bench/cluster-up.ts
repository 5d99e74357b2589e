/**
 * Times `kanary cluster up` on a warm cache (binaries built) and `down`, on a
 * cluster of its own so a running shared cluster is not disturbed.
 *
 *   node bench/cluster-up.ts [runs=5]
 *
 * The cold build is timed by `hack/controlplane/build.sh` itself (it prints the
 * elapsed seconds per binary); see docs/benchmarks.md.
 */
import { cpus, totalmem } from 'node:os';
import { clusterConfig } from '../src/cluster/config.ts';
import { binariesPresent, clusterDown, clusterUp } from '../src/cluster/lifecycle.ts';

const runs = Number(process.argv[2] ?? 5);
const c = clusterConfig('kanary-bn');
if (!binariesPresent(c)) {
  console.error('build the control plane first: npm run kanary -- cluster build');
  process.exit(1);
}
await clusterDown(c, { progress: () => undefined });
const ups: number[] = [];
const downs: number[] = [];
for (let i = 0; i < runs; i++) {
  let t = performance.now();
  await clusterUp(c, { progress: () => undefined });
  ups.push(performance.now() - t);
  t = performance.now();
  await clusterDown(c, { progress: () => undefined });
  downs.push(performance.now() - t);
  console.log(`run ${i + 1}: up ${(ups[i]! / 1000).toFixed(2)} s, down ${(downs[i]! / 1000).toFixed(2)} s`);
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${(s[Math.floor(s.length / 2)]! / 1000).toFixed(2)} s, max ${(s[s.length - 1]! / 1000).toFixed(2)} s`;
};
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);
console.log(`warm cluster up (${runs} runs): ${stats(ups)}`);
console.log(`cluster down (${runs} runs): ${stats(downs)}`);
