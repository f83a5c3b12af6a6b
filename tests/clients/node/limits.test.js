'use strict';
// smtpcatch's limits and stops, checked through nodemailer's results.

const nodemailer = require('nodemailer');
const smtpcatch = require('./smtpcatch');
const { smtpOptions, startSmtpcatch, stopAndCheck } = require('./helpers');

function plainMail(i) {
  return {
    from: 'app@example.com', to: `user${i}@example.com`, subject: `Message ${i}`, text: 'Hello\n',
  };
}

test('verify succeeds without sending', async () => {
  const server = await startSmtpcatch();
  const transport = nodemailer.createTransport(smtpOptions(server.port));
  try {
    await expect(transport.verify()).resolves.toBe(true);
  } finally {
    transport.close();
  }
  await stopAndCheck(server);
  expect(server.lines).toHaveLength(1);
});

test('message over --max-size gets 552', async () => {
  const server = await startSmtpcatch(['--max-size', '1K']);
  const transport = nodemailer.createTransport(smtpOptions(server.port));
  try {
    const failure = transport.sendMail({ ...plainMail(1), text: `${'x'.repeat(70)}\n`.repeat(40) });
    await expect(failure).rejects.toMatchObject({ responseCode: 552 });
    await expect(failure).rejects.toThrow(/552 5\.3\.4/);

    // The session goes on: a small message on the same server still arrives.
    await transport.sendMail(plainMail(2));
  } finally {
    transport.close();
  }
  expect((await server.nextMessage(3000)).rcpt_to).toEqual(['user2@example.com']);
  await stopAndCheck(server);
});

test('message past --count is refused', async () => {
  const server = await smtpcatch.start(['--count', '2', '--timeout', '10']);
  const transport = nodemailer.createTransport(smtpOptions(server.port, { pool: true, maxConnections: 1 }));
  try {
    await transport.sendMail(plainMail(1));
    await transport.sendMail(plainMail(2));
    // smtpcatch replies to the third MAIL with 421 4.3.2 and closes the session.
    // nodemailer's pool then retries on a new connection, which smtpcatch no
    // longer accepts, so the error the caller sees is ECONNREFUSED.
    await expect(transport.sendMail(plainMail(3))).rejects.toMatchObject({ code: 'ESOCKET' });
  } finally {
    transport.close();
  }
  expect((await server.nextMessage(3000)).rcpt_to).toEqual(['user1@example.com']);
  expect((await server.nextMessage(3000)).rcpt_to).toEqual(['user2@example.com']);
  await expect(server.nextMessage(3000)).rejects.toThrow(/exited with status 0/);
  await stopAndCheck(server);
});

test('stop with idle pooled connection is quick', async () => {
  const server = await startSmtpcatch();
  const transport = nodemailer.createTransport(smtpOptions(server.port, { pool: true, maxConnections: 1 }));
  try {
    await transport.sendMail(plainMail(1));
    expect((await server.nextMessage(3000)).rcpt_to).toEqual(['user1@example.com']);

    // The pool keeps its session open, and SIGTERM must not wait for it.
    const started = Date.now();
    await stopAndCheck(server);
    expect(Date.now() - started).toBeLessThan(1500);
  } finally {
    transport.close();
  }
});
