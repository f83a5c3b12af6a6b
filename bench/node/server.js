'use strict';
// Serve SMTP with the smtp-server package on 127.0.0.1 as a peer of
// smtpcatch in scripts/bench:
//   node server.js PORT [MAX_SIZE_BYTES]
// Each accepted message becomes one JSON line on stdout, written before
// the 250 reply, with the members that smtpcatch writes, so the two
// servers do comparable work per message.

const { SMTPServer } = require('smtp-server');

const port = Number(process.argv[2]);
const maxSize = Number(process.argv[3] || 64 * 1024 * 1024);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`server.js: invalid port '${process.argv[2]}'; usage: node server.js PORT [MAX_SIZE_BYTES]`);
    process.exit(2);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
let count = 0;

// Collect the message, then write its JSON line and reply.
function onData(stream, session, callback) {
    const chunks = [];

    stream.on('data', chunk => chunks.push(chunk));
    stream.on('end', () => {
        const data = Buffer.concat(chunks);
        const envelope = session.envelope;
        const record = {
            event: 'message',
            id: ++count,
            received_at: new Date().toISOString(),
            client: { address: session.remoteAddress, port: session.remotePort },
            helo: session.hostNameAppearsAs,
            esmtp: session.transmissionType !== 'SMTP',
            mail_from: envelope.mailFrom ? envelope.mailFrom.address : '',
            mail_params: envelope.mailFrom ? envelope.mailFrom.args || {} : {},
            rcpt_to: envelope.rcptTo.map(rcpt => rcpt.address),
            size: data.length,
        };
        try {
            record.data = utf8.decode(data);
        } catch (err) {
            record.data_base64 = data.toString('base64');
        }
        // Node.js writes to a stdout that is a file or /dev/null
        // synchronously, so the line is out before the reply.
        process.stdout.write(JSON.stringify(record) + '\n');
        callback(null, '2.0.0 OK');
    });
}

const server = new SMTPServer({
    name: 'smtp-server.bench',
    size: maxSize,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    // The default reverse DNS lookup of each client would query a name server.
    disableReverseLookup: true,
    socketTimeout: 300 * 1000,
    onData,
});
server.on('error', err => console.error(`server.js: ${err.message}`));
server.listen(port, '127.0.0.1', 1024);
process.on('SIGTERM', () => process.exit(0));
