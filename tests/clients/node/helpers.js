'use strict';
// Shared setup for the nodemailer tests: transport options, the expected
// SMTP data for a raw message, and the checks every smtpcatch stop must pass.

const smtpcatch = require('./smtpcatch');

// Text that AddressSanitizer, LeakSanitizer and UBSan print in their reports.
const SANITIZER_MARKERS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error'];

/**
 * Returns nodemailer SMTP options for smtpcatch on 127.0.0.1 and `port`, with
 * no STARTTLS (smtpcatch offers it only with --tls starttls) and timeouts
 * short enough for a test.
 * `extra` overrides any of them.
 */
function smtpOptions(port, extra = {}) {
  return {
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.example',
    connectionTimeout: 3000,
    greetingTimeout: 3000,
    socketTimeout: 5000,
    dnsTimeout: 1000,
    ...extra,
  };
}

/**
 * Starts smtpcatch for one test file. `--timeout 60` stops it by itself if
 * the file never reaches its afterAll.
 */
function startSmtpcatch(args = []) {
  return smtpcatch.start(['--timeout', '60', ...args]);
}

/** Returns true while a process with this pid exists. */
function processExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if (err.code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * Stops smtpcatch and checks what every test file needs from a stop: exit
 * status 0, no process left, every stdout line a JSON object with an
 * `event`, and no sanitizer report on stderr.
 */
async function stopAndCheck(server) {
  const status = await server.stop();
  expect(status).toBe(0);
  expect(processExists(server.pid)).toBe(false);

  for (const line of server.lines) {
    const parsed = JSON.parse(line);
    expect(typeof parsed.event).toBe('string');
  }

  const reports = server.stderr().split('\n')
    .filter((line) => SANITIZER_MARKERS.some((marker) => line.includes(marker)));
  expect(reports).toEqual([]);
}

/**
 * Returns the bytes that an SMTP server must report as the data of a message
 * whose raw form is `raw`. nodemailer turns every bare CR and bare LF into
 * CRLF. A last line without a line ending gets CRLF, because the client ends
 * the data with `<CRLF>.<CRLF>`. Dot-stuffing is undone by the server, so it
 * does not show.
 */
function expectedSmtpData(raw) {
  const normalized = Buffer.from(raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
  if (normalized.length === 0 || normalized.subarray(-2).toString('latin1') !== '\r\n') {
    return Buffer.concat([normalized, Buffer.from('\r\n')]);
  }
  return normalized;
}

/** Returns a message line's data as bytes, from `data` or `data_base64`. */
function messageBytes(message) {
  if (message.data_base64 !== undefined) return Buffer.from(message.data_base64, 'base64');
  return Buffer.from(message.data, 'utf8');
}

module.exports = {
  expectedSmtpData,
  messageBytes,
  processExists,
  smtpOptions,
  startSmtpcatch,
  stopAndCheck,
};
