'use strict';
// nodemailer's SMTP transport sending single messages to smtpcatch.

const nodemailer = require('nodemailer');
const { smtpOptions, startSmtpcatch, stopAndCheck } = require('./helpers');

let server;

beforeAll(async () => {
  server = await startSmtpcatch();
});

afterAll(async () => {
  if (server) await stopAndCheck(server);
});

function createTransport(extra) {
  return nodemailer.createTransport(smtpOptions(server.port, extra));
}

/** Returns the value of the first header `name` in `data`, unfolded. */
function headerValue(data, name) {
  const headers = data.slice(0, data.indexOf('\r\n\r\n') + 2).replace(/\r\n[ \t]/g, ' ');
  const match = headers.match(new RegExp(`^${name}: (.*)\r$`, 'im'));
  return match ? match[1] : undefined;
}

test('plain message arrives with envelope and data', async () => {
  const transport = createTransport();
  const info = await transport.sendMail({
    from: 'app@example.com',
    to: 'new.user@example.com',
    subject: 'Welcome',
    text: 'Hello\nSecond line\n',
  });
  transport.close();

  const message = await server.nextMessage(3000);
  expect(info.accepted).toEqual(['new.user@example.com']);
  expect(info.response).toMatch(/^250 /);
  expect(message.mail_from).toBe('app@example.com');
  expect(message.rcpt_to).toEqual(['new.user@example.com']);
  expect(message.helo).toBe('client.example');
  expect(message.esmtp).toBe(true);
  expect(message.client.address).toBe('127.0.0.1');
  expect(message.warnings).toEqual([]);
  expect(message.size).toBe(Buffer.byteLength(message.data));

  expect(headerValue(message.data, 'Subject')).toBe('Welcome');
  expect(headerValue(message.data, 'From')).toBe('app@example.com');
  expect(headerValue(message.data, 'To')).toBe('new.user@example.com');
  expect(headerValue(message.data, 'Message-ID')).toBe(info.messageId);
  expect(message.data).toMatch(/\r\n\r\nHello\r\nSecond line\r\n$/);
  expect(message.data).not.toMatch(/(^|[^\r])\n/);
});

test('Bcc recipients are in the envelope only', async () => {
  const transport = createTransport();
  const info = await transport.sendMail({
    from: 'app@example.com',
    to: 'to@example.com',
    cc: ['cc1@example.com', 'cc2@example.com'],
    bcc: ['hidden1@example.com', 'hidden2@example.com'],
    subject: 'Bcc',
    text: 'Bcc test\n',
  });
  transport.close();

  const message = await server.nextMessage(3000);
  const recipients = ['to@example.com', 'cc1@example.com', 'cc2@example.com',
    'hidden1@example.com', 'hidden2@example.com'];
  expect(info.accepted).toEqual(recipients);
  expect(message.rcpt_to).toEqual(recipients);
  expect(message.rcpt_params).toEqual(recipients.map(() => ({})));
  expect(headerValue(message.data, 'Cc')).toBe('cc1@example.com, cc2@example.com');
  expect(headerValue(message.data, 'Bcc')).toBeUndefined();
  expect(message.data).not.toContain('hidden');
});

test('explicit envelope overrides the headers', async () => {
  const transport = createTransport();
  await transport.sendMail({
    from: 'Header Sender <header@example.com>',
    to: 'header-to@example.com',
    envelope: {
      from: 'bounces+123@example.com',
      to: ['real1@example.com', 'real2@example.net'],
    },
    subject: 'Envelope',
    text: 'Envelope test\n',
  });
  transport.close();

  const message = await server.nextMessage(3000);
  expect(message.mail_from).toBe('bounces+123@example.com');
  expect(message.rcpt_to).toEqual(['real1@example.com', 'real2@example.net']);
  expect(headerValue(message.data, 'To')).toBe('header-to@example.com');
});

test('DSN parameters reach the envelope', async () => {
  const transport = createTransport();
  await transport.sendMail({
    from: 'app@example.com',
    to: ['a@example.com', 'b@example.com'],
    subject: 'DSN',
    text: 'DSN test\n',
    dsn: {
      id: 'envelope-42',
      return: 'headers',
      notify: ['failure', 'delay'],
      recipient: 'app@example.com',
    },
  });
  transport.close();

  const message = await server.nextMessage(3000);
  expect(message.mail_params).toEqual(expect.objectContaining({ RET: 'HDRS', ENVID: 'envelope-42' }));
  expect(message.rcpt_to).toEqual(['a@example.com', 'b@example.com']);
  const rcptParams = { NOTIFY: 'FAILURE,DELAY', ORCPT: 'rfc822;app@example.com' };
  expect(message.rcpt_params).toEqual([rcptParams, rcptParams]);
});

test('UTF-8 addresses use SMTPUTF8 only', async () => {
  const transport = createTransport();
  await transport.sendMail({
    envelope: { from: 'jörg@example.com', to: ['zoë@example.com'] },
    from: 'jörg@example.com',
    to: 'zoë@example.com',
    subject: 'UTF-8 envelope',
    text: 'SMTPUTF8 test\n',
  });
  transport.close();

  const message = await server.nextMessage(3000);
  expect(message.mail_from).toBe('jörg@example.com');
  expect(message.rcpt_to).toEqual(['zoë@example.com']);
  expect(message.mail_params.SMTPUTF8).toBe(true);
  expect(headerValue(message.data, 'From')).toBe('jörg@example.com');
  // RFC 6531 section 1.2 requires an SMTPUTF8 client to send BODY=8BITMIME
  // too. nodemailer 10.6.1 does not, so its UTF-8 headers draw this warning.
  expect(message.mail_params.BODY).toBeUndefined();
  expect(message.warnings).toEqual(['8bit_without_8bitmime']);
});

test('auth settings unused without AUTH', async () => {
  // smtpcatch offers no AUTH, and nodemailer 10.6.1 then sends without
  // logging in, so code under test that sets credentials still works.
  const transport = createTransport({ auth: { user: 'app', pass: 'secret' } });
  await transport.sendMail({
    from: 'app@example.com', to: 'auth@example.com', subject: 'Auth', text: 'Auth test\n',
  });
  transport.close();

  const message = await server.nextMessage(3000);
  expect(message.rcpt_to).toEqual(['auth@example.com']);
});

test('consecutive messages get consecutive ids', async () => {
  const transport = createTransport();
  for (let i = 1; i <= 3; i += 1) {
    await transport.sendMail({
      from: 'app@example.com',
      to: `user${i}@example.com`,
      subject: `Message ${i}`,
      text: `Body ${i}\n`,
    });
  }
  transport.close();

  const ids = [];
  for (let i = 1; i <= 3; i += 1) {
    const message = await server.nextMessage(3000);
    expect(message.rcpt_to).toEqual([`user${i}@example.com`]);
    expect(headerValue(message.data, 'Subject')).toBe(`Message ${i}`);
    ids.push(message.id);
  }
  expect(ids[1]).toBe(ids[0] + 1);
  expect(ids[2]).toBe(ids[1] + 1);
});
