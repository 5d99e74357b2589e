/**
 * What the least-privilege tests compare: the API server's view of a request
 * (verb, API group, resource[/subresource], as its RBAC authorizer sees it) and
 * the grants of RBAC rules, one (group, resource, verb) triple at a time.
 */

export interface RequestAttributes {
  verb: string;
  group: string;
  /** `resource` or `resource/subresource`, as RBAC rules name it */
  resource: string;
  namespace?: string;
  name?: string;
}

const VERB_OF_METHOD: Record<string, string> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
  GET: 'get',
  HEAD: 'get',
};

/**
 * The attributes the API server's request-info resolver gives a resource
 * request (k8s.io/apiserver's RequestInfoFactory): /api/v1/... is the core
 * group, /apis/<group>/<version>/...; GET of a collection is list, with
 * watch=true it is watch; DELETE of a collection is deletecollection.
 * Undefined for a non-resource request (/version, /api, /apis, /openapi/...).
 */
export function requestAttributes(method: string, url: string): RequestAttributes | undefined {
  const u = new URL(url, 'https://x');
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else return undefined;
  if (rest.length === 0) return undefined; // discovery of a group version
  let verb = VERB_OF_METHOD[method.toUpperCase()];
  if (!verb) return undefined;
  let namespace: string | undefined;
  // the old /watch/ prefix
  if (rest[0] === 'watch') {
    verb = 'watch';
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest;
  if (!plural) return undefined;
  // /api/v1/namespaces/<ns> itself is the namespaces resource
  const resource = sub ? `${plural}/${sub}` : plural;
  if (!name) {
    if (verb === 'get')
      verb = u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1' ? 'watch' : 'list';
    else if (verb === 'delete') verb = 'deletecollection';
  } else if (
    verb === 'get' &&
    (u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1')
  ) {
    verb = 'watch';
  }
  return { verb, group, resource, namespace, name };
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A grant: `group resource verb`, e.g. `apps replicasets create`, `"" pods/eviction create`. */
export type Grant = string;

export const grant = (group: string, resource: string, verb: string): Grant =>
  `${group || '""'} ${resource} ${verb}`;

/** Every (group, resource, verb) the rules grant; fails on `*`, which a least-privilege role never has. */
export function grantsOf(rules: PolicyRule[]): Grant[] {
  const out = new Set<Grant>();
  for (const r of rules) {
    const all = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs];
    if (all.includes('*')) throw new Error(`a rule grants "*": ${JSON.stringify(r)}`);
    if (r.nonResourceURLs?.length) throw new Error(`a rule grants non-resource URLs: ${JSON.stringify(r)}`);
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) for (const v of r.verbs) out.add(grant(g, res, v));
  }
  return [...out].sort();
}

export const grantOf = (a: RequestAttributes): Grant => grant(a.group, a.resource, a.verb);
