'use strict';
// The fixture itself: start, nextMessage's timeout and failure text, stop,
// and what it leaves behind.

const net = require('node:net');
const nodemailer = require('nodemailer');
const smtpcatch = require('./smtpcatch');
const {
  processExists, smtpOptions, startSmtpcatch, stopAndCheck,
} = require('./helpers');

/** Sends one plain message through smtpcatch on `port`. */
async function sendPlain(port, subject) {
  const transport = nodemailer.createTransport(smtpOptions(port));
  try {
    await transport.sendMail({
      from: 'app@example.com', to: 'user@example.com', subject, text: 'Hello\n',
    });
  } finally {
    transport.close();
  }
}

/** Resolves with the error code of a TCP connection to `host` and `port`, or 'connected'. */
function tryConnect(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err) => resolve(err.code));
  });
}

test('ready line gives port and pid', async () => {
  const server = await startSmtpcatch();
  try {
    expect(Number.isInteger(server.port)).toBe(true);
    expect(server.port).toBeGreaterThan(0);
    expect(server.ready.pid).toBe(server.pid);
    expect(server.ready.event).toBe('ready');
    expect(server.lines).toHaveLength(1);
  } finally {
    await stopAndCheck(server);
  }
});

test('nextMessage timeout shows what arrived', async () => {
  const server = await startSmtpcatch();
  try {
    await sendPlain(server.port, 'Already read');
    expect((await server.nextMessage(3000)).data).toContain('Subject: Already read');

    const started = Date.now();
    const failure = server.nextMessage(300);
    await expect(failure).rejects.toThrow(/^no message line from smtpcatch within 300 ms: smtpcatch is still running/);
    await expect(failure).rejects.toThrow(/"event":"ready"/);
    await expect(failure).rejects.toThrow(/Subject: Already read/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    await stopAndCheck(server);
  }
});

test('nextMessage waits for a later message', async () => {
  const server = await startSmtpcatch();
  try {
    const waiting = server.nextMessage(5000);
    await new Promise((resolve) => { setTimeout(resolve, 100); });
    await sendPlain(server.port, 'Sent while waiting');
    expect((await waiting).data).toContain('Subject: Sent while waiting');
  } finally {
    await stopAndCheck(server);
  }
});

test('stop leaves no process or port', async () => {
  const server = await startSmtpcatch();
  expect(await tryConnect('127.0.0.1', server.port)).toBe('connected');
  expect(await tryConnect('::1', server.port)).toBe('connected');

  await stopAndCheck(server);
  expect(processExists(server.pid)).toBe(false);
  expect(await tryConnect('127.0.0.1', server.port)).toBe('ECONNREFUSED');
  expect(await tryConnect('::1', server.port)).toBe('ECONNREFUSED');
  expect(await server.stop()).toBe(0);
});

test('stop after --count exit returns 0', async () => {
  const server = await smtpcatch.start(['--count', '1', '--timeout', '10']);
  await sendPlain(server.port, 'Only one');
  expect((await server.nextMessage(3000)).id).toBe(1);
  await expect(server.nextMessage(3000)).rejects.toThrow(/^no message line from smtpcatch: smtpcatch exited with status 0/);
  await stopAndCheck(server);
});

test('--timeout exit 124 fails nextMessage', async () => {
  const server = await smtpcatch.start(['--count', '1', '--timeout', '0.3']);
  await expect(server.nextMessage(5000)).rejects.toThrow(/smtpcatch exited with status 124/);
  expect(await server.stop()).toBe(124);
  expect(processExists(server.pid)).toBe(false);
});

test('invalid option fails start with stderr', async () => {
  const failure = smtpcatch.start(['--count', 'abc']);
  await expect(failure).rejects.toThrow(/exited with status 2/);
  await expect(failure).rejects.toThrow(/invalid --count value 'abc'/);
});

test('missing binary fails start', async () => {
  const saved = process.env.SMTPCATCH_BIN;
  process.env.SMTPCATCH_BIN = '/nonexistent/smtpcatch';
  try {
    await expect(smtpcatch.start()).rejects.toThrow(/spawn \/nonexistent\/smtpcatch ENOENT/);
  } finally {
    process.env.SMTPCATCH_BIN = saved;
  }
});

test('parallel instances stay apart', async () => {
  const servers = await Promise.all([1, 2, 3, 4].map(() => startSmtpcatch()));
  try {
    expect(new Set(servers.map((server) => server.port)).size).toBe(4);
    await Promise.all(servers.map((server, i) => sendPlain(server.port, `Instance ${i}`)));
    for (const [i, server] of servers.entries()) {
      const message = await server.nextMessage(3000);
      expect(message.id).toBe(1);
      expect(message.data).toContain(`Subject: Instance ${i}\r\n`);
    }
  } finally {
    for (const server of servers) await stopAndCheck(server);
  }
});
