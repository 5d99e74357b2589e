import { join } from 'node:path';
import { type ClusterConfig, files } from './config.ts';

/** One long-running process of the local cluster. */
export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  /** how to tell it is ready and healthy */
  health: { kind: 'http' | 'https'; url: string; token?: boolean } | { kind: 'pid' };
}

/** Command lines of the control-plane processes, in start order (pure; unit tested). */
export function controlPlaneComponents(c: ClusterConfig): ComponentSpec[] {
  const f = files(c);
  const bin = (n: string) => join(c.binDir, n);
  const api = `https://127.0.0.1:${c.ports.apiserver}`;
  return [
    {
      name: 'etcd',
      command: bin('etcd'),
      args: [
        `--name=${c.name}`,
        `--data-dir=${f.etcdData}`,
        `--listen-client-urls=http://127.0.0.1:${c.ports.etcd}`,
        `--advertise-client-urls=http://127.0.0.1:${c.ports.etcd}`,
        `--listen-peer-urls=http://127.0.0.1:${c.ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${c.ports.etcdPeer}`,
        `--initial-cluster=${c.name}=http://127.0.0.1:${c.ports.etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--auto-compaction-retention=1',
        '--quota-backend-bytes=2147483648',
        '--log-level=warn',
      ],
      health: { kind: 'http', url: `http://127.0.0.1:${c.ports.etcd}/health` },
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${c.ports.etcd}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${c.ports.apiserver}`,
        `--cert-dir=${f.pki}`,
        `--token-auth-file=${f.tokens}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${api}`,
        `--service-account-key-file=${f.saKey}`,
        `--service-account-signing-key-file=${f.saKey}`,
        `--service-cluster-ip-range=${c.serviceCidr}`,
        '--allow-privileged=true',
        // loopback cannot be an endpoint address, so the apiserver must not try
        // to publish itself in the `kubernetes` Service's endpoints
        '--endpoint-reconciler-type=none',
        '--max-requests-inflight=0',
        '--max-mutating-requests-inflight=0',
        '--enable-priority-and-fairness=false',
        '--v=0',
      ],
      health: { kind: 'https', url: `${api}/readyz`, token: true },
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${f.kubeconfig}`,
        `--authentication-kubeconfig=${f.kubeconfig}`,
        `--authorization-kubeconfig=${f.kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${c.ports.controllerManager}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        '--leader-elect=false',
        `--service-account-private-key-file=${f.saKey}`,
        `--root-ca-file=${join(f.pki, 'apiserver.crt')}`,
        '--kube-api-qps=200',
        '--kube-api-burst=400',
        '--concurrent-replicaset-syncs=10',
        '--concurrent-deployment-syncs=10',
        // 1.36's read-your-writes check makes the ReplicaSet controller fail and back off
        // whenever its cache trails its own last write; with a Rollout controller scaling the
        // same ReplicaSets that backoff delayed pods by a minute under test load (thousands of
        // "read version … is not as new as written version" errors). 1.35 behaviour instead.
        '--feature-gates=StaleControllerConsistencyReplicaSet=false',
        '--v=1',
      ],
      health: { kind: 'https', url: `https://127.0.0.1:${c.ports.controllerManager}/healthz` },
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: [
        `--config=${f.schedulerConfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${c.ports.scheduler}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
        `--authentication-kubeconfig=${f.kubeconfig}`,
        `--authorization-kubeconfig=${f.kubeconfig}`,
        '--v=1',
      ],
      health: { kind: 'https', url: `https://127.0.0.1:${c.ports.scheduler}/healthz` },
    },
    {
      name: 'kwok',
      command: bin('kwok'),
      args: [
        `--kubeconfig=${f.kubeconfig}`,
        `--config=${f.kwokConfig}`,
        '--manage-all-nodes=true',
        `--cidr=${c.podCidr}`,
        `--node-ip=${c.nodeIpPrefix}.1`,
        '--node-lease-duration-seconds=40',
      ],
      health: { kind: 'pid' },
    },
  ];
}

export function schedulerConfigYaml(c: ClusterConfig): string {
  return [
    'apiVersion: kubescheduler.config.k8s.io/v1',
    'kind: KubeSchedulerConfiguration',
    `clientConnection: {kubeconfig: ${JSON.stringify(files(c).kubeconfig)}, qps: 200, burst: 400}`,
    'leaderElection: {leaderElect: false}',
    '',
  ].join('\n');
}

export function kubeconfigYaml(c: ClusterConfig, token: string, caFile: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${c.name}`,
    '  cluster:',
    `    server: https://127.0.0.1:${c.ports.apiserver}`,
    `    certificate-authority: ${JSON.stringify(caFile)}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${c.name}`,
    '  context:',
    `    cluster: ${c.name}`,
    '    user: admin',
    '    namespace: default',
    `current-context: ${c.name}`,
    '',
  ].join('\n');
}
