// Types of handover.js (plain JavaScript, so that Node 20 runs it) for the TypeScript that imports it.
export const FORWARDED: NodeJS.Signals[];
export const WRAPPER_PID_ENV: string;
export const WRAPPER_POLL_ENV: string;
export interface TerminalStat {
  pgrp: number;
  ttyNr: number;
  tpgid: number;
}
export function parseStat(text: string): TerminalStat | undefined;
export function deliveredByTerminal(
  signal: NodeJS.Signals,
  stat: TerminalStat | undefined,
  startedOnTerminal: boolean,
): boolean;
export function exitPlan(
  code: number | null,
  signal: NodeJS.Signals | null,
): { raise?: NodeJS.Signals; code: number };
export function findOnPath(name: string, path?: string): string | undefined;
export function setprivWithPdeathsig(path?: string): string | undefined;
export function runBundled(node: string, args: string[]): void;
export function watchWrapper(pid: number, poll: boolean, intervalMs?: number): void;
