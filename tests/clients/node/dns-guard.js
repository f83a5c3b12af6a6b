'use strict';
// Jest setup file: fails any test that makes a DNS query.
//
// nodemailer resolves a host name such as `localhost` with dns.Resolver's
// resolve4 and resolve6, which query the nameservers of /etc/resolv.conf,
// before it tries /etc/hosts. These tests may only reach smtpcatch on the
// loopback addresses, so every DNS query is answered here with an error and
// recorded, and the test that made it fails.

const dns = require('node:dns');

const QUERY_METHODS = ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveMx', 'resolveTxt'];
const GUARD = Symbol.for('smtpcatch.dnsGuard');

if (!dns[GUARD]) {
  const queries = [];
  for (const target of [dns, dns.Resolver.prototype]) {
    for (const method of QUERY_METHODS) {
      target[method] = function blockedQuery(hostname, ...rest) {
        queries.push(`${method}(${hostname})`);
        const callback = rest[rest.length - 1];
        const err = new Error(`DNS query ${method}(${hostname}) blocked: the tests reach loopback addresses only`);
        err.code = 'EBLOCKEDBYTEST';
        if (typeof callback === 'function') setImmediate(callback, err);
        return undefined;
      };
    }
  }
  dns[GUARD] = queries;
}

const queries = dns[GUARD];
let queriesBefore = 0;

beforeEach(() => {
  queriesBefore = queries.length;
});

afterEach(() => {
  expect(queries.slice(queriesBefore)).toEqual([]);
});
