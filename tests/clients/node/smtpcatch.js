'use strict';
// Jest fixture: starts smtpcatch and reads its JSON lines from stdout.
const { spawn } = require('node:child_process');
const readline = require('node:readline');

/**
 * Starts smtpcatch (SMTPCATCH_BIN, else `smtpcatch` on PATH) and waits for its
 * ready line. Resolves with the port, nextMessage(timeoutMs) and stop(), and
 * with `lines`, every stdout line read so far.
 */
async function start(args = []) {
  // --timeout is a backstop: smtpcatch exits by itself if the test run dies.
  const child = spawn(process.env.SMTPCATCH_BIN || 'smtpcatch', ['--timeout', '600', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const unread = [];
  const waiters = new Set();
  const wakeAll = () => waiters.forEach((wake) => wake());
  let stderr = '';
  let status = null; // exit code or signal name, once smtpcatch has exited
  child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    unread.push(line);
    wakeAll();
  });
  let spawnError = null;
  child.on('error', (err) => { spawnError = err; });
  const closed = new Promise((resolve) => child.on('close', (code, signal) => {
    status = signal || code;
    wakeAll();
    resolve(status);
  }));
  const describe = () => {
    let state = status === null ? 'is still running' : `exited with status ${status}`;
    if (spawnError) state = `could not be started (${spawnError.message})`;
    return `smtpcatch ${state}; its stdout so far:\n${lines.join('\n') || '(nothing)'}\n`
      + `its stderr: ${JSON.stringify(stderr)}`;
  };

  // Returns the next stdout line whose event is `event`, parsed. Lines of other events are skipped.
  async function next(event, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (unread.length === 0) {
        const remaining = deadline - Date.now();
        if (status !== null || remaining <= 0) {
          const within = status === null ? ` within ${timeoutMs} ms` : '';
          throw new Error(`no ${event} line from smtpcatch${within}: ${describe()}`);
        }
        await new Promise((resolve) => {
          const wake = () => { clearTimeout(timer); waiters.delete(wake); resolve(); };
          const timer = setTimeout(wake, remaining);
          waiters.add(wake);
        });
      }
      const line = unread.shift();
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        throw new Error(`smtpcatch wrote a line that is not JSON (${err.message}): ${line}`);
      }
      if (parsed.event === event) return parsed;
    }
  }

  // Sends SIGTERM and resolves with the exit status (0 for a clean stop).
  async function stop(timeoutMs = 5000) {
    if (status === null) child.kill('SIGTERM');
    let timer;
    const timedOut = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, 'timed out'); });
    if (await Promise.race([closed, timedOut]) === 'timed out') {
      child.kill('SIGKILL');
      await closed;
      throw new Error(`smtpcatch did not exit within ${timeoutMs} ms of SIGTERM and was killed: ${describe()}`);
    }
    clearTimeout(timer);
    return status;
  }

  let ready;
  try {
    ready = await next('ready', 5000);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return {
    port: ready.port,
    pid: child.pid,
    ready,
    lines,
    stderr: () => stderr,
    nextMessage: (timeoutMs = 5000) => next('message', timeoutMs),
    stop,
  };
}

module.exports = { start };
