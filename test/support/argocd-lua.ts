/**
 * Argo CD's own view of a Rollout, by running its own Lua: the health check
 * (`health.lua`), the action discovery (`actions/discovery.lua`) and the
 * resource actions (`actions/<name>/action.lua`) of
 * `resource_customizations/argoproj.io/Rollout/` in the pinned Argo CD module
 * (read in place, see upstream.ts), under a real Lua 5.1 (Debian's `lua5.1` with
 * `lua-cjson`; Argo CD embeds gopher-lua, a Lua 5.1). The driver,
 * argocd-lua-driver.lua, sets the script up as Argo CD does; this module does
 * the parts Argo CD does in Go around the script: reading the result (health
 * status codes, disabled actions, the `{}` an empty table stood for) and
 * turning an action's result into the patches Argo CD sends.
 *
 * One `lua5.1` process runs a whole batch of cases: pass many objects at once
 * where you can (`rolloutHealths`, `runRolloutLua`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { upstreamPath } from './upstream.ts';

const DRIVER = join(import.meta.dirname, 'argocd-lua-driver.lua');
const LUA = 'lua5.1';

/** `resource_customizations/argoproj.io/Rollout` in the pinned Argo CD module. */
export function rolloutCustomizations(): string {
  return upstreamPath('argo-cd', 'resource_customizations', 'argoproj.io', 'Rollout');
}

/** The Rollout actions Argo CD ships: every `actions/<name>/action.lua`. */
export function rolloutActionNames(): string[] {
  const dir = join(rolloutCustomizations(), 'actions');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'action.lua')))
    .map((d) => d.name)
    .sort();
}

export type LuaCase =
  | { kind: 'health'; obj: unknown }
  | { kind: 'discovery'; obj: unknown }
  | { kind: 'action'; action: string; obj: unknown; now?: Date };

/** What the script returned (as JSON, by Argo CD's encoding rules), or the error it raised. */
export type LuaOutcome = { ok: true; value: unknown } | { ok: false; error: string };

function scriptOf(c: LuaCase): string {
  if (c.kind === 'health') return 'health.lua';
  if (c.kind === 'discovery') return 'actions/discovery.lua';
  if (!/^[a-z0-9-]+$/.test(c.action)) throw new Error(`not an action name: ${JSON.stringify(c.action)}`);
  return `actions/${c.action}/action.lua`;
}

/** Runs every case in one `lua5.1` process; results are in the order of the cases. */
export function runRolloutLua(cases: LuaCase[]): LuaOutcome[] {
  const scripts: Record<string, string> = {};
  const input = cases.map((c) => {
    const id = scriptOf(c);
    scripts[id] ??= upstreamPath('argo-cd', 'resource_customizations', 'argoproj.io', 'Rollout', id);
    const now = c.kind === 'action' ? c.now : undefined;
    return { script: id, kind: c.kind, obj: c.obj, now };
  });
  return runLuaScripts(scripts, input);
}

/** A case for any script: `script` is a key of the `scripts` passed along. */
export interface ScriptCase {
  script: string;
  kind: LuaCase['kind'];
  obj: unknown;
  now?: Date | undefined;
}

/**
 * Runs cases of the given scripts (id → file) in one `lua5.1` process, set up
 * as Argo CD sets up a script of that kind. `runRolloutLua` runs Argo CD's
 * Rollout scripts with it; the tests of the driver run small scripts of their own.
 */
export function runLuaScripts(scripts: Record<string, string>, cases: ScriptCase[]): LuaOutcome[] {
  if (cases.length === 0) return [];
  const input = cases.map((c) => ({
    script: c.script,
    kind: c.kind,
    obj: c.obj,
    now: c.now ? Math.floor(c.now.getTime() / 1000) : undefined,
  }));
  const res = spawnSync(LUA, [DRIVER], {
    input: JSON.stringify({ scripts, cases: input }),
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (res.error) {
    const e = res.error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new Error(
        `running Argo CD's Lua needs ${LUA} and lua-cjson (Debian: apt-get install lua5.1 lua-cjson; scripts/ensure-deps.sh checks for them)`,
      );
    }
    throw new Error(`${LUA} ${DRIVER} failed: ${e.message}`);
  }
  if (res.status !== 0) {
    throw new Error(`${LUA} ${DRIVER} exited with ${res.status ?? res.signal}: ${res.stderr.trim()}`);
  }
  let out: unknown;
  try {
    out = JSON.parse(res.stdout);
  } catch {
    throw new Error(`${LUA} ${DRIVER} printed something that is not JSON: ${res.stdout.slice(0, 200)}`);
  }
  if (!Array.isArray(out) || out.length !== cases.length) {
    throw new Error(
      `${LUA} ${DRIVER} answered ${cases.length} cases with ${JSON.stringify(out).slice(0, 200)}`,
    );
  }
  return out as LuaOutcome[];
}

function resultOf(outcome: LuaOutcome | undefined, what: string): unknown {
  if (!outcome) throw new Error(`${what}: no result`);
  if (!outcome.ok) throw new Error(`${what}: the Lua script failed: ${outcome.error}`);
  return outcome.value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- health ----

export interface Health {
  status: string;
  message: string;
}

/** The health status codes Argo CD accepts from a script; anything else reads as Unknown. */
const HEALTH_CODES = ['Unknown', 'Progressing', 'Suspended', 'Healthy', 'Degraded', 'Missing'];

/** Argo CD's reading of health.lua's result; undefined when the script returned nil (no health). */
export function healthFromLua(value: unknown): Health | undefined {
  if (value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return { status: '', message: '' }; // an empty table: an empty health status
    throw new Error(`health.lua returned a list: ${JSON.stringify(value)}`);
  }
  if (!isObject(value)) throw new Error(`health.lua returned ${JSON.stringify(value)}, not a table`);
  const status = typeof value.status === 'string' ? value.status : '';
  if (!HEALTH_CODES.includes(status)) {
    return { status: 'Unknown', message: 'Lua returned an invalid health status' };
  }
  return { status, message: typeof value.message === 'string' ? value.message : '' };
}

/** Argo CD's health of each Rollout, in one Lua process. */
export function rolloutHealths(objs: readonly unknown[]): (Health | undefined)[] {
  const outcomes = runRolloutLua(objs.map((obj) => ({ kind: 'health', obj })));
  return outcomes.map((o, i) => healthFromLua(resultOf(o, `health.lua on object ${i}`)));
}

/** Argo CD's health of one Rollout (the Rollout script always returns one). */
export function rolloutHealth(obj: unknown): Health {
  const h = rolloutHealths([obj])[0];
  if (!h) throw new Error('health.lua returned no health');
  return h;
}

// ---- action discovery ----

export interface ActionAvailability {
  disabled: boolean;
  displayName?: string;
  iconClass?: string;
}

/** Argo CD's reading of discovery.lua's result: each action and whether it is greyed out. */
export function actionsFromLua(value: unknown): Record<string, ActionAvailability> {
  if (Array.isArray(value) && value.length === 0) return {}; // an empty table: no actions
  if (!isObject(value)) throw new Error(`discovery.lua returned ${JSON.stringify(value)}, not a table`);
  const actions: Record<string, ActionAvailability> = {};
  for (const [name, spec] of Object.entries(value)) {
    // an empty table stands for an enabled action; a non-boolean `disabled` does not disable it
    const fields = isObject(spec) ? spec : {};
    const a: ActionAvailability = { disabled: fields.disabled === true };
    if (typeof fields.displayName === 'string') a.displayName = fields.displayName;
    if (typeof fields.iconClass === 'string') a.iconClass = fields.iconClass;
    actions[name] = a;
  }
  return actions;
}

/** The actions Argo CD offers for the Rollout. */
export function discoverRolloutActions(obj: unknown): Record<string, ActionAvailability> {
  return actionsFromLua(resultOf(runRolloutLua([{ kind: 'discovery', obj }])[0], 'discovery.lua'));
}

// ---- actions ----

/**
 * Where the live object had an object and the script's result has an empty
 * list, the script saw an empty table it could not tell from a list: put the
 * object back, as Argo CD does after an action (also inside lists, element by element).
 */
export function restoreEmptyObjects(result: unknown, live: unknown): unknown {
  if (isObject(result) && isObject(live)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(result)) {
      if (!(k in live)) out[k] = v;
      else if (Array.isArray(v) && v.length === 0 && isObject(live[k])) out[k] = {};
      else out[k] = restoreEmptyObjects(v, live[k]);
    }
    return out;
  }
  if (Array.isArray(result) && Array.isArray(live)) {
    return result.map((v, i) =>
      i < live.length && typeof v === 'object' ? restoreEmptyObjects(v, live[i]) : v,
    );
  }
  return result;
}

/** Argo CD's reading of an action's result for `live`: the object it is to be patched into. */
export function actionResultFromLua(value: unknown, live: unknown, action: string): Record<string, unknown> {
  if (Array.isArray(value)) {
    throw new Error(`${action}: the action returned a list of impacted resources, not the changed object`);
  }
  if (!isObject(value))
    throw new Error(`${action}: the action returned ${JSON.stringify(value)}, not a table`);
  return restoreEmptyObjects(value, JSON.parse(JSON.stringify(live))) as Record<string, unknown>;
}

/** The object `action` turns the live Rollout into; `now` is what `os.time`/`os.date` read. */
export function runRolloutAction(
  live: unknown,
  action: string,
  now: Date = new Date(),
): Record<string, unknown> {
  const [outcome] = runRolloutLua([{ kind: 'action', action, obj: live, now }]);
  return actionResultFromLua(resultOf(outcome, `actions/${action}/action.lua`), live, action);
}

// ---- the patches Argo CD sends ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The RFC 7386 JSON merge patch that turns `from` into `to`: removed keys become
 * null, changed objects recurse, anything else (arrays included) is replaced.
 * Returns undefined when nothing changed.
 */
export function createMergePatch(from: unknown, to: unknown): Json | undefined {
  if (!isObject(from) || !isObject(to)) return deepEqual(from, to) ? undefined : ((to ?? null) as Json);
  const patch: Record<string, Json> = {};
  for (const key of Object.keys(from)) {
    if (!(key in to) || to[key] === undefined) patch[key] = null;
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    if (!(key in from)) {
      patch[key] = value as Json;
      continue;
    }
    const sub = createMergePatch(from[key], value);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export interface ActionPatches {
  /** merge patch for the `status` subresource, sent first */
  status?: Json;
  /** merge patch for the main resource, sent after the status patch */
  main?: Json;
  /** the single merge patch for the main resource when the CRD has no status subresource */
  unified?: Json;
}

/**
 * How Argo CD applies an action's result (server/application: patchResource):
 * the merge patch from the live object to the result goes whole to `/status`
 * when it touches status (the API server ignores the other fields there), then
 * its non-status part to the main resource.
 */
export function patchesFor(live: unknown, result: unknown): ActionPatches {
  const patch = createMergePatch(JSON.parse(JSON.stringify(live)), result);
  if (!isObject(patch)) return {};
  const { status, ...rest } = patch;
  const out: ActionPatches = { unified: patch };
  if (status !== undefined) out.status = patch;
  if (Object.keys(rest).length > 0) out.main = rest;
  return out;
}

/** The patches Argo CD sends to run `action` (its action.lua) on the live Rollout. */
export function actionPatches(live: unknown, action: string, now: Date = new Date()): ActionPatches {
  return patchesFor(live, runRolloutAction(live, action, now));
}
