'use strict';
// Messages built first, so their exact bytes are known, then sent with
// nodemailer's `raw` option. smtpcatch must report those bytes, changed only
// by nodemailer's CRLF line endings (dot-stuffing is undone by the server).

const nodemailer = require('nodemailer');
const MailComposer = require('nodemailer/lib/mail-composer');
const {
  expectedSmtpData, messageBytes, smtpOptions, startSmtpcatch, stopAndCheck,
} = require('./helpers');

let server;

beforeAll(async () => {
  server = await startSmtpcatch();
});

afterAll(async () => {
  if (server) await stopAndCheck(server);
});

const ENVELOPE = { from: 'raw-sender@example.com', to: ['raw1@example.com', 'raw2@example.com'] };

/** Sends `raw` with `envelope` and returns smtpcatch's line for it. */
async function sendRaw(raw, envelope = ENVELOPE) {
  const transport = nodemailer.createTransport(smtpOptions(server.port));
  try {
    const info = await transport.sendMail({ envelope, raw });
    expect(info.accepted).toEqual(envelope.to);
  } finally {
    transport.close();
  }
  const message = await server.nextMessage(3000);
  expect(message.mail_from).toBe(envelope.from);
  expect(message.rcpt_to).toEqual(envelope.to);
  return message;
}

/** Asserts that `message` carries `raw` as nodemailer's SMTP client sends it. */
function expectSameBytes(message, raw) {
  const expected = expectedSmtpData(Buffer.from(raw));
  // latin1 maps each byte to one character, so a mismatch shows as a text diff.
  expect(messageBytes(message).toString('latin1')).toBe(expected.toString('latin1'));
  expect(message.size).toBe(expected.length);
}

test('MailComposer message arrives byte for byte', async () => {
  const raw = await new MailComposer({
    from: 'Sender <raw-sender@example.com>',
    to: 'raw1@example.com, raw2@example.com',
    subject: 'Composed',
    text: '.first line starts with a dot\n.\n..\nlast line\n',
    attachments: [{ filename: 'a.txt', content: '.\r\n..\r\nend' }],
    messageId: '<composed@example.com>',
    date: new Date('2026-01-02T03:04:05Z'),
  }).compile().build();
  expect(raw.includes(Buffer.from('\r\n'))).toBe(true);

  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.warnings).toEqual([]);
});

test('LF-only message arrives with CRLF', async () => {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const built = await builder.sendMail({
    from: 'raw-sender@example.com',
    to: 'raw1@example.com',
    subject: 'Unix line endings',
    text: 'one\ntwo\n.\nthree\n',
    messageId: '<unix@example.com>',
    date: new Date('2026-01-02T03:04:05Z'),
  });
  expect(built.message.includes(Buffer.from('\r\n'))).toBe(false);

  const message = await sendRaw(built.message);
  expectSameBytes(message, built.message);
  expect(message.data).toContain('\r\n\r\none\r\ntwo\r\n.\r\nthree\r\n');
  expect(message.warnings).toEqual([]);
});

test('dot lines survive dot-stuffing', async () => {
  const raw = 'Subject: dots\r\n\r\n.\r\n..\r\n...\r\n.hidden\r\nmiddle . dot\r\n. \r\n.\r\nend\r\n';
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.data).toBe(raw);
});

test('last line without line ending gets CRLF', async () => {
  const raw = 'Subject: no final newline\r\n\r\nlast line';
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.data).toBe(`${raw}\r\n`);
});

test('bare CR and LF become CRLF', async () => {
  const raw = 'Subject: mixed endings\n\nbare LF\nbare CR\rCR then dot\r.\r\nCRLF\r\n';
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.warnings).toEqual([]);
});

test('8-bit UTF-8 body without 8BITMIME warns', async () => {
  const raw = 'Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n'
    + 'Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, 你好 🙂\r\n';
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.data).toBe(raw);
  // nodemailer 10.6.1 sends BODY=8BITMIME only when the envelope sets
  // use8BitMime, never by itself.
  expect(message.mail_params.BODY).toBeUndefined();
  expect(message.warnings).toEqual(['8bit_without_8bitmime']);
});

test('8-bit body with use8BitMime is clean', async () => {
  const raw = 'Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n'
    + 'Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, 你好 🙂\r\n';
  const message = await sendRaw(raw, { ...ENVELOPE, use8BitMime: true });
  expectSameBytes(message, raw);
  expect(message.mail_params.BODY).toBe('8BITMIME');
  expect(message.warnings).toEqual([]);
});

test('invalid UTF-8 arrives as data_base64', async () => {
  const raw = Buffer.concat([
    Buffer.from('Subject: latin1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n'),
    Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x0d, 0x0a, 0xff, 0xfe, 0x0d, 0x0a]),
  ]);
  const message = await sendRaw(raw);
  expect(message.data).toBeUndefined();
  expectSameBytes(message, raw);
});

test('NUL and U+2028 survive the JSON line', async () => {
  const raw = 'Subject: escapes\r\n\r\nnul \u0000 here\r\nline separator \u2028 and \u2029\r\nquote " backslash \\\r\n';
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.data).toBe(raw);
  expect([...message.warnings].sort()).toEqual(['8bit_without_8bitmime', 'nul_byte']);
  // U+2028 and U+2029 are escaped, so the line is also valid JavaScript.
  const line = server.lines[server.lines.length - 1];
  expect(line).toContain('\\u2028');
  expect(line).not.toContain('\u2028');
  expect(line).not.toContain('\u2029');
});

test('long line is reported over 998', async () => {
  const raw = `Subject: long line\r\n\r\n${'x'.repeat(2000)}\r\nshort\r\n`;
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
  expect(message.warnings).toEqual(['line_over_998']);
});

test('large message with many dot lines arrives whole', async () => {
  const lines = ['Subject: large', ''];
  for (let i = 0; i < 40000; i += 1) {
    lines.push(i % 3 === 0 ? `.line ${i} ${'y'.repeat(40)}` : `line ${i} ${'z'.repeat(40)}`);
  }
  const raw = `${lines.join('\r\n')}\r\n`;
  expect(raw.length).toBeGreaterThan(2 * 1024 * 1024);
  const message = await sendRaw(raw);
  expectSameBytes(message, raw);
});
