/**
 * `node:http` without the 13 MB it costs as an ES module.
 *
 * An ES-module import of a built-in (`import { request } from 'node:http'`, even one name) builds
 * the module's whole namespace, which reads every export — and `node:http`'s `WebSocket`,
 * `CloseEvent` and `MessageEvent` are lazy getters that load undici, Node's fetch and WebSocket
 * client (~13 MB of RSS measured on Node 24.21: 44.5 MB after `require('node:http')`, 57.5 MB
 * after `import 'node:http'`). Kanary's processes do not need them, so its modules take
 * `node:http`'s values from here, through `require`, which leaves the getters alone. Types still
 * come from `import type ... from 'node:http'`, which is erased. `node:https` has no such getters.
 */

import type * as Http from 'node:http';
import { createRequire } from 'node:module';

const http: typeof Http = createRequire(import.meta.url)('node:http');

export const Agent = http.Agent;
export type Agent = Http.Agent;
export const createServer = http.createServer;
export const request = http.request;
