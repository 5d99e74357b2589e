import type { Command } from 'commander';
import { colourEnabled } from '../../client/icons.ts';
import { UserError } from '../errors.ts';

const positiveInt = (flag: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new UserError(`${flag} must be a positive whole number, got "${v}"`);
  return Number(v);
};

export function registerPlaygroundCommand(program: Command): void {
  program
    .command('playground')
    .description(
      'the canary end to end: local cluster, controller and data plane; deploy 0.0.1, release 0.0.2 at 10%, measure real traffic, promote',
    )
    .option(
      '--scenario <name>',
      'default: promote (or --abort) by hand; analysis: a success-rate analysis against a real Prometheus promotes 0.0.2 and aborts 0.0.3 (fails 20% of requests)',
      (v: string) => {
        if (v !== 'default' && v !== 'analysis')
          throw new UserError(`--scenario must be "default" or "analysis", got "${v}"`);
        return v;
      },
      'default',
    )
    .option(
      '--strategy <name>',
      'canary (examples/tomozo) or bluegreen (examples/bluegreen: active and preview hosts checked before and after promotion)',
      (v: string) => {
        if (v !== 'canary' && v !== 'bluegreen')
          throw new UserError(`--strategy must be "canary" or "bluegreen", got "${v}"`);
        return v;
      },
      'canary',
    )
    .option('--requests <n>', 'requests per traffic burst', positiveInt('--requests'), 1000)
    .option('--replicas <n>', 'replicas of the Rollout', positiveInt('--replicas'), 10)
    .option('--abort', 'abort the canary instead of promoting it', false)
    .option('--keep', 'leave everything running afterwards and print how to use it', false)
    .option(
      '-f, --filename <dir>',
      'run your own manifests (a folder of YAML: Rollout, Services, Ingress) instead of the built-in scenario',
    )
    .option(
      '--image <image>',
      'the new image to roll out (default for the built-in scenario: tomozo-repo/tomozo:0.0.2)',
    )
    .option('--kubeconfig <path>', 'use an existing cluster instead of the local one (needs --ingress-url)')
    .option('--context <name>', 'kubeconfig context of an existing cluster (needs --ingress-url)')
    .option(
      '--ingress-url <url>',
      'where the data plane of an existing cluster is reachable, e.g. http://127.0.0.1:80',
    )
    .option('-n, --namespace <ns>', 'namespace to run in (recreated)', 'kanary-playground')
    .option(
      '--ingress-port <port>',
      'local data plane HTTP port on 127.0.0.1 (default: 18080, or a free port when 18080 is taken)',
      positiveInt('--ingress-port'),
    )
    .option('--host <host>', 'Host header for requests (default: the stable Ingress rule host)')
    .option('--path <path>', 'request path (default: derived from the stable Ingress path)')
    .option('--timeout <seconds>', 'how long to wait for each rollout stage', positiveInt('--timeout'), 180)
    .option(
      '--confidence <level>',
      'confidence level of the interval the measured canary share must contain (0.5-0.9999)',
      (v: string) => {
        const n = Number(v);
        if (!(n >= 0.5 && n <= 0.9999))
          throw new UserError(`--confidence must be between 0.5 and 0.9999, got "${v}"`);
        return n;
      },
      0.99,
    )
    .option('--no-color', 'plain output without colours')
    .action(async (o) => {
      // loaded here, not at start-up: the playground needs the cluster, controller and data plane code
      const { LiveOutput } = await import('../../playground/live.ts');
      const { renderSummary, runPlayground } = await import('../../playground/run.ts');
      const live = new LiveOutput(process.stdout);
      const colour = colourEnabled(process.stdout, { noColor: !o.color });
      const { results, ok } = await runPlayground({
        scenario: o.scenario,
        strategy: o.strategy,
        requests: o.requests,
        replicas: o.replicas,
        keep: o.keep,
        abort: o.abort,
        dir: o.filename,
        image: o.image,
        kubeconfig: o.kubeconfig,
        context: o.context,
        ingressUrl: o.ingressUrl,
        namespace: o.namespace,
        ingressPort: o.ingressPort,
        host: o.host,
        path: o.path,
        timeoutSeconds: o.timeout,
        confidence: o.confidence,
        live,
        colour,
      });
      process.stdout.write(`\nSummary\n${renderSummary(results, colour)}`);
      process.stdout.write(ok ? '\nAll checks passed.\n' : '\nSome checks FAILED.\n');
      if (!ok) process.exitCode = 1;
    });
}
