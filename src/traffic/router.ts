/**
 * The routers Kanary has, behind the planner's TrafficRouter interface
 * (src/rollout/router.ts). The shell passes `routerFor` to plan(); a new
 * provider is one more entry here and a file beside nginx.ts.
 */
import type { RouterLookup } from '../rollout/router.ts';
import { routerFor as nginxRouterFor } from './nginx.ts';

export type { RouterLookup, RouterObservation, RouterResult, TrafficRouter } from '../rollout/router.ts';

const routers: RouterLookup[] = [nginxRouterFor];

/** The first router that handles the Rollout's spec.strategy.canary.trafficRouting, if any. */
export const routerFor: RouterLookup = (obs) => {
  for (const lookup of routers) {
    const router = lookup(obs);
    if (router) return router;
  }
  return undefined;
};
