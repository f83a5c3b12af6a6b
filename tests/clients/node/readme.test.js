const nodemailer = require('nodemailer');
const smtpcatch = require('./smtpcatch');

let server;
beforeAll(async () => { server = await smtpcatch.start(); });
afterAll(async () => { await server.stop(); });

test('signup sends a welcome mail', async () => {
  // The code under test would send this mail. Here nodemailer sends it.
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, ignoreTLS: true });
  await transport.sendMail({ from: 'app@example.com', to: 'new.user@example.com', subject: 'Welcome', text: 'Hello' });
  const message = await server.nextMessage();
  expect(message.rcpt_to).toEqual(['new.user@example.com']);
  expect(message.data).toContain('Subject: Welcome\r\n');
});
