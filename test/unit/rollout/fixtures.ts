/** The scenario objects (Rollout tomozo with NGINX routing), as the API server would hold them. */
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Rollout } from '../../../src/api/types.ts';

export function tomozoRollout(image = 'tomozo-repo/tomozo:0.0.1'): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: {
      name: 'tomozo',
      namespace: 'default',
      uid: 'rollout-uid',
      generation: 1,
      labels: { app: 'tomozo' },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'tomozo' } },
      template: {
        metadata: { labels: { app: 'tomozo' } },
        spec: { serviceAccountName: 'tomozo', containers: [{ name: 'tomozo', image }] },
      },
      strategy: {
        canary: {
          stableService: 'tomozo-stable',
          canaryService: 'tomozo-canary',
          trafficRouting: {
            nginx: {
              stableIngress: 'tomozo',
              annotationPrefix: 'nginx.ingress.kubernetes.io',
              additionalIngressAnnotations: {
                'use-regex': 'true',
                'canary-by-header': 'X-Canary',
                'canary-by-header-value': 'true',
              },
            },
          },
          steps: [{ setWeight: 10 }, { pause: {} }],
        },
      },
    },
  };
}

export function service(name: string, selector: Record<string, string> = { app: 'tomozo' }): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector, ports: [{ port: 80, targetPort: 80 }] },
  };
}

export function tomozoIngress(): V1Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'tomozo',
      namespace: 'default',
      annotations: { 'nginx.ingress.kubernetes.io/use-regex': 'true' },
    },
    spec: {
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'tomozo.tokyo',
          http: {
            paths: [
              {
                path: '/v1/tomozo/.*',
                pathType: 'ImplementationSpecific',
                backend: { service: { name: 'tomozo-stable', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}
