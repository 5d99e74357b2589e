/**
 * The smallest data plane model: one Ingress (`app.test`, `/` Prefix) to one Service whose single
 * ready endpoint is 127.0.0.1:`backendPort`. For tests and benches that drive nginx directly,
 * without a cluster.
 */
import { buildModel } from '../../src/dataplane/build.ts';
import type { DataPlaneModel } from '../../src/dataplane/types.ts';

export function oneAppModel(backendPort: number): DataPlaneModel {
  return buildModel(
    {
      ingresses: [
        {
          metadata: { name: 'app', namespace: 'w', creationTimestamp: '2026-01-01T00:00:00Z' },
          spec: {
            ingressClassName: 'nginx',
            rules: [
              {
                host: 'app.test',
                http: {
                  paths: [
                    {
                      path: '/',
                      pathType: 'Prefix',
                      backend: { service: { name: 'app', port: { number: 80 } } },
                    },
                  ],
                },
              },
            ],
          },
        },
      ],
      services: [{ metadata: { name: 'app', namespace: 'w' }, spec: { ports: [{ port: 80 }] } }],
      endpointSlices: [
        {
          metadata: { name: 'app', namespace: 'w', labels: { 'kubernetes.io/service-name': 'app' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
          ports: [{ name: '', port: backendPort }],
        },
      ],
      secrets: [],
    },
    { ingressClass: 'nginx', annotationsPrefix: 'nginx.ingress.kubernetes.io' },
  );
}
