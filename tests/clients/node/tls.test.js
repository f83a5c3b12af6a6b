'use strict';
// nodemailer over TLS (STARTTLS and implicit) with AUTH, verifying the
// certificate that smtpcatch generates and writes with --tls-cert-out.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const nodemailer = require('nodemailer');
const { smtpOptions, startSmtpcatch, stopAndCheck } = require('./helpers');

let certDir;

beforeAll(() => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtpcatch-tls-'));
});

afterAll(() => {
  // smtpcatch leaves the --tls-cert-out file in place after it exits.
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

/**
 * Starts smtpcatch with `--tls mode` and `extra` options, and reads the
 * certificate it wrote before its ready line. Resolves with the server and
 * the certificate in PEM.
 */
async function startTls(mode, extra = []) {
  const certFile = path.join(certDir, `${mode}-${Date.now()}-${Math.random().toString(16).slice(2)}.pem`);
  const server = await startSmtpcatch(['--tls', mode, '--tls-cert-out', certFile, ...extra]);
  const pem = fs.readFileSync(certFile, 'utf8');
  return { server, pem };
}

/** nodemailer options for STARTTLS that trust only smtpcatch's certificate. */
function starttlsOptions(port, pem, extra = {}) {
  return smtpOptions(port, {
    ignoreTLS: false,
    requireTLS: true,
    tls: { ca: pem, servername: 'localhost' },
    ...extra,
  });
}

const mail = (subject) => ({
  from: 'app@example.com',
  to: 'user@example.com',
  subject,
  text: `${subject}\n`,
});

describe('STARTTLS', () => {
  let server;
  let pem;

  beforeAll(async () => {
    ({ server, pem } = await startTls('starttls'));
  });

  afterAll(async () => {
    if (server) await stopAndCheck(server);
  });

  test('certificate file holds one PEM certificate', () => {
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+-----END CERTIFICATE-----\r?\n?$/);
  });

  test('requireTLS send with trusted certificate', async () => {
    const transport = nodemailer.createTransport(starttlsOptions(server.port, pem, {
      auth: { user: 'app@example.com', pass: 's3cret' },
    }));
    let info;
    try {
      info = await transport.sendMail(mail('STARTTLS'));
    } finally {
      transport.close();
    }

    const message = await server.nextMessage(3000);
    expect(info.accepted).toEqual(['user@example.com']);
    expect(message.rcpt_to).toEqual(['user@example.com']);
    expect(message.tls).toEqual({ version: expect.stringMatching(/^TLSv1\./), cipher: expect.any(String) });
    expect(message.tls.cipher).not.toBe('');
    // nodemailer 10.6.1 picks PLAIN from `AUTH PLAIN LOGIN CRAM-MD5`.
    expect(message.auth).toEqual({ mechanism: 'PLAIN', username: 'app@example.com', password: 's3cret' });
    expect(message.esmtp).toBe(true);
    expect(message.helo).toBe('client.example');
    expect(message.warnings).toEqual([]);
  });

  test('default trust store rejects the self-signed certificate', async () => {
    // Without `ca`, Node's default CA list does not contain the self-signed
    // certificate, so this shows that the other tests verify it.
    const transport = nodemailer.createTransport(smtpOptions(server.port, {
      ignoreTLS: false,
      requireTLS: true,
      tls: { servername: 'localhost' },
      auth: { user: 'app@example.com', pass: 's3cret' },
    }));
    try {
      await expect(transport.sendMail(mail('Untrusted'))).rejects.toThrow(/certificate/i);
    } finally {
      transport.close();
    }
  });

  test('wrong servername fails verification', async () => {
    const transport = nodemailer.createTransport(starttlsOptions(server.port, pem, {
      tls: { ca: pem, servername: 'not-localhost.example' },
    }));
    try {
      await expect(transport.sendMail(mail('Wrong name'))).rejects.toThrow(/not-localhost\.example|altnames|Hostname/i);
    } finally {
      transport.close();
    }
  });
});

describe('implicit TLS', () => {
  let server;
  let pem;

  beforeAll(async () => {
    ({ server, pem } = await startTls('implicit'));
  });

  afterAll(async () => {
    if (server) await stopAndCheck(server);
  });

  test('secure: true send with trusted certificate', async () => {
    const transport = nodemailer.createTransport(smtpOptions(server.port, {
      secure: true,
      tls: { ca: pem, servername: 'localhost' },
      auth: { user: 'implicit-user', pass: 'pa:ss wörd' },
    }));
    let info;
    try {
      info = await transport.sendMail(mail('Implicit'));
    } finally {
      transport.close();
    }

    const message = await server.nextMessage(3000);
    expect(info.accepted).toEqual(['user@example.com']);
    expect(message.tls.version).toMatch(/^TLSv1\./);
    expect(typeof message.tls.cipher).toBe('string');
    expect(message.auth).toEqual({ mechanism: 'PLAIN', username: 'implicit-user', password: 'pa:ss wörd' });
  });
});

describe('AUTH with --auth', () => {
  let server;
  let pem;

  beforeAll(async () => {
    ({ server, pem } = await startTls('starttls', ['--auth', 'alice:secret', '--require-auth']));
  });

  afterAll(async () => {
    if (server) await stopAndCheck(server);
  });

  test('wrong password rejects with EAUTH and 535', async () => {
    const transport = nodemailer.createTransport(starttlsOptions(server.port, pem, {
      auth: { user: 'alice', pass: 'wrong' },
    }));
    let error;
    try {
      await transport.sendMail(mail('Wrong password'));
    } catch (err) {
      error = err;
    } finally {
      transport.close();
    }

    expect(error).toBeDefined();
    expect(error.code).toBe('EAUTH');
    expect(error.responseCode).toBe(535);
    expect(error.response).toMatch(/^535 5\.7\.8 /);
  });

  test('right password is accepted', async () => {
    const transport = nodemailer.createTransport(starttlsOptions(server.port, pem, {
      auth: { user: 'alice', pass: 'secret' },
    }));
    try {
      await transport.sendMail(mail('Right password'));
    } finally {
      transport.close();
    }

    const message = await server.nextMessage(3000);
    expect(message.auth).toEqual({ mechanism: 'PLAIN', username: 'alice', password: 'secret' });
    expect(message.tls.version).toMatch(/^TLSv1\./);
  });
});
