'use strict';
// nodemailer's pooled SMTP transport sending many messages at once.

const nodemailer = require('nodemailer');
const { smtpOptions, startSmtpcatch, stopAndCheck } = require('./helpers');

const MESSAGE_COUNT = 20;
const MAX_CONNECTIONS = 3;

let server;

beforeAll(async () => {
  server = await startSmtpcatch();
});

afterAll(async () => {
  if (server) await stopAndCheck(server);
});

test('pooled messages all arrive with their envelopes', async () => {
  const transport = nodemailer.createTransport(smtpOptions(server.port, {
    pool: true,
    maxConnections: MAX_CONNECTIONS,
    maxMessages: 100,
  }));
  const sent = [];
  try {
    for (let i = 0; i < MESSAGE_COUNT; i += 1) {
      sent.push(transport.sendMail({
        envelope: { from: `sender${i}@example.com`, to: [`rcpt${i}@example.com`, `copy${i}@example.net`] },
        from: 'app@example.com',
        to: `rcpt${i}@example.com`,
        subject: `Pooled ${i}`,
        text: `Body of message ${i}\n`,
      }));
    }
    const infos = await Promise.all(sent);
    infos.forEach((info, i) => {
      expect(info.accepted).toEqual([`rcpt${i}@example.com`, `copy${i}@example.net`]);
    });
  } finally {
    transport.close();
  }

  const messages = [];
  for (let i = 0; i < MESSAGE_COUNT; i += 1) {
    messages.push(await server.nextMessage(3000));
  }

  // The pool delivers in parallel, so the arrival order is not the send order.
  const byIndex = new Map();
  for (const message of messages) {
    const index = Number(/^sender(\d+)@example\.com$/.exec(message.mail_from)[1]);
    expect(byIndex.has(index)).toBe(false);
    byIndex.set(index, message);
  }
  for (let i = 0; i < MESSAGE_COUNT; i += 1) {
    const message = byIndex.get(i);
    expect(message).toBeDefined();
    expect(message.rcpt_to).toEqual([`rcpt${i}@example.com`, `copy${i}@example.net`]);
    expect(message.data).toContain(`\r\nSubject: Pooled ${i}\r\n`);
    expect(message.data).toMatch(new RegExp(`\r\n\r\nBody of message ${i}\r\n$`));
    expect(message.warnings).toEqual([]);
  }

  const ids = messages.map((message) => message.id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(new Set(ids).size).toBe(MESSAGE_COUNT);

  // With more messages queued than connections, the pool opens
  // MAX_CONNECTIONS sessions at once and reuses each of them.
  const clientPorts = new Set(messages.map((message) => message.client.port));
  expect(clientPorts.size).toBe(MAX_CONNECTIONS);
});

test('one pooled connection carries every message', async () => {
  const transport = nodemailer.createTransport(smtpOptions(server.port, {
    pool: true,
    maxConnections: 1,
  }));
  try {
    for (let i = 0; i < 5; i += 1) {
      await transport.sendMail({
        from: 'app@example.com',
        to: `serial${i}@example.com`,
        subject: `Serial ${i}`,
        text: 'Serial\n',
      });
    }
  } finally {
    transport.close();
  }

  const messages = [];
  for (let i = 0; i < 5; i += 1) {
    messages.push(await server.nextMessage(3000));
  }
  expect(messages.map((message) => message.rcpt_to)).toEqual(
    [0, 1, 2, 3, 4].map((i) => [`serial${i}@example.com`]),
  );
  expect(new Set(messages.map((message) => message.client.port)).size).toBe(1);
});
