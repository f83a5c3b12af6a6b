'use strict';
// nodemailer reaching smtpcatch through `localhost`, ::1 and 127.0.0.1.
//
// smtpcatch binds 127.0.0.1 and ::1 by default, so a client reaches it
// whichever loopback address `localhost` resolves to first. Node's
// dns.lookup returns addresses in the order the system lists them (often ::1
// first), and nodemailer tries IPv6 addresses before IPv4 ones.

const net = require('node:net');
const nodemailer = require('nodemailer');
const nodemailerShared = require('nodemailer/lib/shared');
const { smtpOptions, startSmtpcatch, stopAndCheck } = require('./helpers');

let server;

beforeAll(async () => {
  server = await startSmtpcatch();
});

afterAll(async () => {
  if (server) await stopAndCheck(server);
});

/** Sends one message with `options` and returns smtpcatch's line for it. */
async function sendThrough(options, recipient) {
  const transport = nodemailer.createTransport(smtpOptions(server.port, options));
  try {
    await transport.sendMail({
      from: 'app@example.com',
      to: recipient,
      subject: `Via ${recipient}`,
      text: 'Hello\n',
    });
  } finally {
    transport.close();
  }
  const message = await server.nextMessage(3000);
  expect(message.rcpt_to).toEqual([recipient]);
  return message;
}

/** Returns a socket connected to smtpcatch by `lookup`'s first address. */
function connectVia(lookup) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: 'localhost', port: server.port, lookup, autoSelectFamily: false,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('ready line lists both loopback addresses', () => {
  expect(server.ready.addresses).toEqual(['127.0.0.1', '::1']);
  expect(server.ready.address).toBe('127.0.0.1');
});

test('host 127.0.0.1 succeeds', async () => {
  const message = await sendThrough({ host: '127.0.0.1' }, 'ipv4@example.com');
  expect(message.client.address).toBe('127.0.0.1');
});

test('host ::1 succeeds', async () => {
  const message = await sendThrough({ host: '::1' }, 'ipv6@example.com');
  expect(message.client.address).toBe('::1');
});

test('host localhost resolved by nodemailer succeeds', async () => {
  // nodemailer would ask the DNS servers for localhost's A and AAAA records.
  // Its cache is filled with an answer that lists both loopback addresses,
  // so no query leaves this machine.
  nodemailerShared.dnsCache.set('localhost', { value: { addresses: ['127.0.0.1', '::1'] } });
  try {
    const message = await sendThrough({ host: 'localhost' }, 'localhost@example.com');
    expect(message.client.address).toBe('::1');
  } finally {
    nodemailerShared.dnsCache.delete('localhost');
  }
});

test('host localhost resolved by the system succeeds', async () => {
  // Node's own resolver (getaddrinfo, so /etc/hosts) picks the address here.
  const socket = await connectVia(undefined);
  const message = await sendThrough(
    { host: 'localhost', getSocket: (options, callback) => callback(null, { connection: socket }) },
    'system-localhost@example.com',
  );
  expect(['127.0.0.1', '::1']).toContain(message.client.address);
  expect(message.client.port).toBe(socket.localPort);
});

test('localhost listed as ::1 first succeeds', async () => {
  // The order of an /etc/hosts with "::1 localhost" before "127.0.0.1 localhost".
  const ipv6First = (hostname, options, callback) => {
    const addresses = [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }];
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  };
  const socket = await connectVia(ipv6First);
  const message = await sendThrough(
    { host: 'localhost', getSocket: (options, callback) => callback(null, { connection: socket }) },
    'ipv6-first@example.com',
  );
  expect(message.client.address).toBe('::1');
});
