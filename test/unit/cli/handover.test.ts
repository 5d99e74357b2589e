import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveredByTerminal, exitPlan, parseStat, type TerminalStat } from '../../../bin/handover.js';

test('parseStat: process group, terminal and its foreground group, past a command name with ") "', () => {
  const line = '4242 (node) weird) S 4200 4242 4100 34816 4242 4194304 92 0 0 0 1 0 0 0 20 0 7 0 1234';
  assert.deepEqual(parseStat(line), { pgrp: 4242, ttyNr: 34816, tpgid: 4242 });
  assert.equal(parseStat('not a stat line'), undefined);
});

test('deliveredByTerminal: only what a terminal sends to the whole foreground group is not passed on', () => {
  const foreground: TerminalStat = { pgrp: 10, ttyNr: 34816, tpgid: 10 };
  const background: TerminalStat = { pgrp: 10, ttyNr: 34816, tpgid: 20 };
  const noTerminal: TerminalStat = { pgrp: 10, ttyNr: 0, tpgid: -1 };
  const cases: [NodeJS.Signals, TerminalStat | undefined, boolean, boolean][] = [
    ['SIGINT', foreground, true, true], // Ctrl-C: the child got it too
    ['SIGQUIT', foreground, true, true], // Ctrl-\
    ['SIGHUP', foreground, true, true],
    ['SIGINT', background, true, false], // `kill -INT` of a background job: only we got it
    ['SIGINT', noTerminal, false, false], // a supervisor's SIGINT
    ['SIGHUP', noTerminal, true, true], // a hangup: the terminal is gone, the group got it
    ['SIGHUP', noTerminal, false, false], // `kill -HUP` of a daemon that never had a terminal
    ['SIGTERM', foreground, true, false], // a terminal never sends SIGTERM
    ['SIGUSR2', foreground, true, false],
    ['SIGINT', undefined, true, false], // no /proc: pass everything on
  ];
  for (const [signal, stat, startedOnTerminal, want] of cases) {
    assert.equal(
      deliveredByTerminal(signal, stat, startedOnTerminal),
      want,
      `${signal} ${JSON.stringify(stat)} ${startedOnTerminal}`,
    );
  }
});

test('exitPlan: the child exit code, or death by its signal (128 + n if that does not end us)', () => {
  assert.deepEqual(exitPlan(0, null), { code: 0 });
  assert.deepEqual(exitPlan(3, null), { code: 3 });
  assert.deepEqual(exitPlan(null, 'SIGTERM'), { raise: 'SIGTERM', code: 143 });
  assert.deepEqual(exitPlan(null, 'SIGINT'), { raise: 'SIGINT', code: 130 });
  assert.deepEqual(exitPlan(null, 'SIGKILL'), { raise: 'SIGKILL', code: 137 });
  // a crash: the child's core dump is the one to look at; no second one of the wrapper
  assert.deepEqual(exitPlan(null, 'SIGSEGV'), { code: 139 });
  assert.deepEqual(exitPlan(null, 'SIGABRT'), { code: 134 });
});
