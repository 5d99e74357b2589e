/**
 * Time from a canary-weight annotation change (the PATCH request) to nginx
 * serving the new weight, on the local cluster with real pods.
 *
 *   node bench/dataplane-weight-latency.ts [--changes 40]
 *
 * The weight alternates between 0 and 100, where the answer is deterministic
 * (v1 = stable, v2 = canary): the change is served once a request returns the
 * new version. Requests are sent back to back on a keep-alive connection.
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startDataPlane } from '../src/dataplane/controller.ts';
import { RESOURCES, resourcePath } from '../src/kube/client.ts';
import { benchNamespace } from './dataplane-support.ts';

const { values: args } = parseArgs({ options: { changes: { type: 'string', default: '40' } } });
const CHANGES = Number(args.changes);

function version(port: number, agent: Agent, host = 'bench'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve((JSON.parse(Buffer.concat(chunks).toString()) as { version: string }).version);
        } catch {
          resolve(`status ${res.statusCode}`);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

async function main(): Promise<void> {
  const env = await benchNamespace(1);
  const dp = await startDataPlane({
    kubeConfig: env.kc,
    namespace: env.name,
    httpPort: 18940,
    httpsPort: 18941,
    metricsPort: 0,
    logger: pino({ level: 'error' }),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const served: number[] = [];
    const acknowledged: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const weight = i % 2 === 0 ? 100 : 0;
      const want = weight === 100 ? 'v2' : 'v1';
      const t0 = performance.now();
      const patched = env.client.patch(resourcePath(RESOURCES.ingresses, env.name, 'app-canary'), {
        metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': String(weight) } },
      });
      let ack: number | undefined;
      for (;;) {
        if (ack === undefined && dp.canaries().find((c) => c.ingress === 'app-canary')?.weight === weight) {
          ack = performance.now() - t0;
        }
        if ((await version(dp.httpPort, agent)) === want) break;
        if (performance.now() - t0 > 30_000) throw new Error(`weight ${weight} not served after 30 s`);
      }
      served.push(performance.now() - t0);
      await patched;
      acknowledged.push(ack ?? performance.now() - t0);
    }
    const reloadsForWeights = dp.nginx.reloads;
    // for comparison: a structural change (a new host) needs nginx -t and a reload
    const structural: number[] = [];
    let resets = 0;
    for (let i = 0; i < Math.min(10, CHANGES); i++) {
      const host = `new-${i}`;
      const t0 = performance.now();
      await env.client.create(resourcePath(RESOURCES.ingresses, env.name), {
        metadata: { name: host },
        spec: {
          ingressClassName: 'nginx',
          rules: [
            {
              host,
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'stable', port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      });
      // a reload closes idle keep-alive connections; count the resets and go on like a retrying client would
      const reset = () => {
        resets++;
        return 'reset';
      };
      while ((await version(dp.httpPort, agent, host).catch(reset)) !== 'v1') {
        if (performance.now() - t0 > 30_000) throw new Error(`${host} not served after 30 s`);
      }
      structural.push(performance.now() - t0);
    }
    const row = (name: string, xs: number[]) =>
      `| ${name} | ${pct(xs, 50).toFixed(0)} | ${pct(xs, 95).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`;
    console.log(`${CHANGES} weight changes (0 ↔ 100) needed ${reloadsForWeights} reloads`);
    console.log('| from the PATCH request to … | p50 ms | p95 ms | max ms |');
    console.log('|---|---|---|---|');
    console.log(row('nginx serving the new weight', served));
    console.log(row('/debug/canaries reporting it', acknowledged));
    console.log(row(`a new Ingress host served (nginx -t + reload; ${structural.length} runs)`, structural));
    console.log(
      `connection resets seen by the keep-alive client during the ${structural.length} reloads: ${resets}`,
    );
    console.log(`p95 goal < 1000 ms: ${pct(served, 95) < 1000 ? 'met' : 'NOT met'}`);
  } finally {
    agent.destroy();
    await dp.stop();
    await env.cleanup();
  }
}

await main();
