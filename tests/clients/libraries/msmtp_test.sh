#!/bin/sh
# Test smtpcatch with msmtp, a sendmail replacement that cron jobs and PHP's
# mail() can send through. It sends over STARTTLS, verifying the generated
# certificate, authenticates with PLAIN using a password with a colon and a
# space, and requests DSN. msmtp adds From, Date and Message-ID headers, so
# the test checks how the data ends.
#
# Run: SMTPCATCH_BIN=build/release/smtpcatch sh msmtp_test.sh
set -eu
. "$(dirname "$0")/helpers.sh"

printf 'Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nend\r\n' >"$dir/message.eml"
printf '#!/bin/sh\necho "s3:cr et"\n' >"$dir/password"
chmod +x "$dir/password"
start --tls starttls --require-tls --tls-cert-out "$dir/cert.pem" --auth 'app@example.com:s3:cr et'
# --file=/dev/null keeps msmtp from reading a user's configuration.
msmtp --file=/dev/null --host=127.0.0.1 --port="$port" --domain=msmtp.client.test \
    --tls=on --tls-starttls=on --tls-trust-file="$dir/cert.pem" \
    --auth=plain --user=app@example.com --passwordeval="$dir/password" \
    --from=a@example.com --dsn-notify=failure --dsn-return=hdrs -- b@example.com c@example.com <"$dir/message.eml"
stop

check "msmtp envelope" '.mail_from == "a@example.com" and .rcpt_to == ["b@example.com", "c@example.com"]' "$dir/message.json"
check "msmtp body" '.data | endswith("\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading\r\nend\r\n")' "$dir/message.json"
check "msmtp auth" '.auth == {"mechanism": "PLAIN", "username": "app@example.com", "password": "s3:cr et"}' "$dir/message.json"
check "msmtp tls" '.tls.version == "TLSv1.3"' "$dir/message.json"
check "msmtp dsn" '.mail_params == {"RET": "HDRS"} and .rcpt_params == [{"NOTIFY": "FAILURE"}, {"NOTIFY": "FAILURE"}]' "$dir/message.json"
finish
