'use strict';
// Messages with attachments, UTF-8 headers and an HTML body, checked byte for
// byte against the same message built by nodemailer's stream transport.

const crypto = require('node:crypto');
const nodemailer = require('nodemailer');
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

const BINARY_ATTACHMENT = Buffer.concat([
  Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0xff, 0xfe, 0x80]),
  crypto.randomBytes(3000),
]);
const TEXT_ATTACHMENT = 'first line\r\n.\r\n.leading dot\nbare LF line\nGrüße, 你好\n';
const SUBJECT = 'Grüße aus Köln – 你好 🙂';
const FROM_NAME = 'Jörg Müller';
const HTML = '<p>Grüße <b>bold</b></p>\n<p>.dot at line start</p>\n';

/**
 * Returns the mail options of the test message. Fixed Message-ID, date and
 * MIME boundaries make two builds of it produce the same bytes.
 */
function mailOptions() {
  return {
    from: { name: FROM_NAME, address: 'joerg@example.com' },
    to: [{ name: 'Zoë', address: 'zoe@example.com' }],
    bcc: 'audit@example.com',
    subject: SUBJECT,
    text: 'Grüße\n.\nplain text part\n',
    html: HTML,
    attachments: [
      { filename: 'data.bin', content: BINARY_ATTACHMENT, contentType: 'application/octet-stream' },
      { filename: 'notes.txt', content: TEXT_ATTACHMENT },
    ],
    messageId: '<content-test@example.com>',
    date: new Date('2026-01-02T03:04:05Z'),
    baseBoundary: 'smtpcatch-content-test',
  };
}

/** Decodes the RFC 2047 encoded words in a header value. */
function decodeEncodedWords(value) {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=/gi, (match, encoding, text) => {
      if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
      const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi,
        (escape, hex) => String.fromCharCode(parseInt(hex, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    });
}

/** Returns the unfolded value of the first header `name` in the header section. */
function headerValue(data, name) {
  const headers = data.slice(0, data.indexOf('\r\n\r\n') + 2).replace(/\r\n[ \t]/g, ' ');
  const match = headers.match(new RegExp(`^${name}: (.*)\r$`, 'im'));
  return match ? match[1] : undefined;
}

/** Returns the decoded body of the MIME part whose headers match `pattern`. */
function partBody(data, pattern) {
  const parts = data.split(/\r\n--[^\r\n]+\r\n/);
  const part = parts.find((candidate) => pattern.test(candidate.slice(0, candidate.indexOf('\r\n\r\n'))));
  if (!part) throw new Error(`no MIME part matches ${pattern} in:\n${data}`);
  const headers = part.slice(0, part.indexOf('\r\n\r\n'));
  const body = part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n--[^\r\n]+--\r\n$/, '');
  const encoding = /Content-Transfer-Encoding: (\S+)/i.exec(headers)[1].toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\r\n/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const unwrapped = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi,
      (escape, hex) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(unwrapped, 'latin1');
  }
  return Buffer.from(body, 'utf8');
}

test('MIME message arrives byte for byte as built', async () => {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  // The stream transport keeps the Bcc header and the SMTP transport drops it.
  const built = await builder.sendMail({ ...mailOptions(), bcc: undefined });

  const transport = nodemailer.createTransport(smtpOptions(server.port));
  let info;
  try {
    info = await transport.sendMail(mailOptions());
  } finally {
    transport.close();
  }

  const message = await server.nextMessage(3000);
  expect(info.messageId).toBe('<content-test@example.com>');
  expect(message.mail_from).toBe('joerg@example.com');
  expect(message.rcpt_to).toEqual(['zoe@example.com', 'audit@example.com']);
  expect(message.data_base64).toBeUndefined();
  // latin1 maps each byte to one character, so a mismatch shows as a text diff.
  expect(messageBytes(message).toString('latin1')).toBe(expectedSmtpData(built.message).toString('latin1'));
  expect(message.size).toBe(built.message.length);
  expect(message.warnings).toEqual([]);
});

test('UTF-8 subject and sender name decode', async () => {
  const transport = nodemailer.createTransport(smtpOptions(server.port));
  try {
    await transport.sendMail(mailOptions());
  } finally {
    transport.close();
  }

  const { data } = await server.nextMessage(3000);
  expect(data).toMatch(/^[\x20-\x7e\r\n\t]*$/); // nodemailer encodes this message's headers and bodies to 7 bit
  expect(decodeEncodedWords(headerValue(data, 'Subject'))).toBe(SUBJECT);
  expect(decodeEncodedWords(headerValue(data, 'From'))).toBe(`${FROM_NAME} <joerg@example.com>`);
  expect(headerValue(data, 'Bcc')).toBeUndefined();
});

test('HTML body and attachments decode', async () => {
  const transport = nodemailer.createTransport(smtpOptions(server.port));
  try {
    await transport.sendMail(mailOptions());
  } finally {
    transport.close();
  }

  const { data } = await server.nextMessage(3000);
  expect(headerValue(data, 'Content-Type')).toMatch(/^multipart\/mixed;/);
  expect(partBody(data, /Content-Type: text\/html/i).toString('utf8')).toBe(HTML.replace(/\n/g, '\r\n'));
  expect(partBody(data, /filename=data\.bin/i).equals(BINARY_ATTACHMENT)).toBe(true);
  expect(partBody(data, /filename=notes\.txt/i).toString('utf8')).toBe(TEXT_ATTACHMENT);
});
