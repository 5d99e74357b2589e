import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../../../src/client/types.ts';
import {
  METRICS,
  parsePrometheus,
  servedCounts,
  servedPoint,
  TrafficTracker,
} from '../../../src/dashboard/traffic.ts';

// the shape `kanary ingress` writes (label order as prom-client renders them)
const TEXT = `# HELP nginx_ingress_controller_requests The total number of client requests
# TYPE nginx_ingress_controller_requests counter
nginx_ingress_controller_requests{ingress="tomozo",namespace="shop",service="tomozo-stable",status="200",canary="",host="tomozo.tokyo",method="GET",path="/v1/tomozo/.*"} 90
nginx_ingress_controller_requests{ingress="tomozo",namespace="shop",service="tomozo-stable",status="200",canary="shop-tomozo-canary-80",host="tomozo.tokyo",method="GET",path="/v1/tomozo/.*"} 10
nginx_ingress_controller_requests{ingress="tomozo",namespace="shop",service="tomozo-stable",status="502",canary="",host="tomozo.tokyo",method="GET",path="/v1/tomozo/.*"} 2
nginx_ingress_controller_requests{ingress="tomozo",namespace="other",service="x",status="200",canary="",host="a",method="GET",path="/"} 1000
nginx_ingress_controller_requests{ingress="blog",namespace="shop",service="blog",status="200",canary="",host="b",method="GET",path="/"} 500
# TYPE kanary_ingress_canary_weight gauge
kanary_ingress_canary_weight{namespace="shop",ingress="tomozo-tomozo-canary"} 10
kanary_ingress_canary_weight_total{namespace="shop",ingress="tomozo-tomozo-canary"} 100
kanary_ingress_reloads_total{result="ok"} 3
`;

const ro: Rollout = {
  metadata: { name: 'tomozo', namespace: 'shop' },
  spec: { strategy: { canary: { trafficRouting: { nginx: { stableIngress: 'tomozo' } } } } },
};

describe('Prometheus text', () => {
  it('reads names, labels and values, only the wanted metrics', () => {
    const samples = parsePrometheus(TEXT, METRICS);
    assert.equal(samples.length, 7);
    assert.deepEqual(samples.at(-1), {
      name: 'kanary_ingress_canary_weight_total',
      labels: { namespace: 'shop', ingress: 'tomozo-tomozo-canary' },
      value: 100,
    });
  });
  it('unescapes label values and skips unreadable lines', () => {
    const samples = parsePrometheus('m{a="x\\"y\\\\z",b="1\\n2"} 3\nbroken line here\nm 1e3 1700000000\n');
    assert.deepEqual(samples, [
      { name: 'm', labels: { a: 'x"y\\z', b: '1\n2' }, value: 3 },
      { name: 'm', labels: {}, value: 1000 },
    ]);
  });
});

describe('served split', () => {
  it("counts the stable Ingress's requests by who served them, and the canary Ingress's weight", () => {
    assert.deepEqual(servedCounts(ro, parsePrometheus(TEXT)), {
      weight: 10,
      weightTotal: 100,
      canaryRequests: 10,
      stableRequests: 92,
    });
  });
  it('nothing for a Rollout without NGINX traffic routing', () => {
    assert.equal(
      servedCounts({ metadata: { name: 'x' }, spec: { strategy: { canary: {} } } }, []),
      undefined,
    );
  });
  it('rates from two scrapes; a weight over a larger total as a percentage', () => {
    const c1 = { weight: 5, weightTotal: 1000, canaryRequests: 10, stableRequests: 100 };
    const c2 = { weight: 5, weightTotal: 1000, canaryRequests: 15, stableRequests: 190 };
    assert.deepEqual(servedPoint({ at: 0, counts: c1 }, 2000, c2), {
      at: 2000,
      weight: 0.5,
      canaryRps: 2.5,
      stableRps: 45,
    });
  });
  it('a counter that went down (data plane restarted) gives no rate, not a negative one', () => {
    const c1 = { weight: 10, weightTotal: 100, canaryRequests: 50, stableRequests: 500 };
    const c2 = { weight: 10, weightTotal: 100, canaryRequests: 3, stableRequests: 20 };
    const p = servedPoint({ at: 0, counts: c1 }, 1000, c2);
    assert.deepEqual([p.canaryRps, p.stableRps], [0, 0]);
  });
  it('the tracker keeps a history and the share of the last interval, and forgets deleted Rollouts', () => {
    const tracker = new TrafficTracker('http://dp/metrics');
    const at = (canary: number, stable: number) =>
      parsePrometheus(
        `nginx_ingress_controller_requests{ingress="tomozo",namespace="shop",canary="c"} ${canary}\nnginx_ingress_controller_requests{ingress="tomozo",namespace="shop",canary=""} ${stable}\n`,
      );
    assert.deepEqual(tracker.update(0, [ro], at(0, 0)), ['shop/tomozo']);
    tracker.update(1000, [ro], at(1, 9));
    const view = tracker.view('shop/tomozo');
    assert.equal(view?.history.length, 2);
    assert.equal(view?.canaryShare, 10);
    assert.deepEqual(tracker.update(2000, [], at(1, 9)), []);
    assert.equal(tracker.view('shop/tomozo'), undefined);
  });
});
