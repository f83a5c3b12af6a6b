#!/bin/sh
# Test smtpcatch with s-nail, a mailx that shell scripts send mail with. It
# sends a UTF-8 subject and text with a line that is only a dot, which
# s-nail 14.9 encodes in quoted-printable as =2E, and a 5 MiB attachment,
# which must decode to the bytes of the file. s-nail 14.9 cannot parse an
# IPv6 literal in mta=, so it connects to 127.0.0.1 only.
#
# Run: SMTPCATCH_BIN=build/release/smtpcatch sh s_nail_test.sh
set -eu
. "$(dirname "$0")/helpers.sh"

head -c 5242880 /dev/urandom >"$dir/data.bin"
start
# -:/ loads no resource file, and nosave writes no dead.letter. s-nail 14.9
# warns on stderr that its credential lookup changes in v15. v15-compat would
# silence that, but it also makes root@HOSTNAME the envelope sender.
printf 'Gr\303\274\303\237e\n.\nend\n' | LC_ALL=C.UTF-8 s-nail -:/ -# -S nosave -S "mta=smtp://127.0.0.1:$port" \
    -S hostname=snail.client.test -S smtp-hostname=snail.client.test -S from=app@example.com \
    -S ttycharset=utf-8 -S sendcharsets=utf-8 -s "$(printf 'Gr\303\274\303\237e \342\230\203')" \
    -a "$dir/data.bin" -. b@example.com
stop

check "s-nail envelope" '.mail_from == "app@example.com" and .rcpt_to == ["b@example.com"] and .helo == "snail.client.test"' "$dir/message.json"
check "s-nail warnings" '.warnings == []' "$dir/message.json"
check "s-nail subject" '.data | contains("\r\nSubject: =?utf-8?B?R3LDvMOfZQ==?= =?utf-8?B?IOKYgw==?=\r\n")' "$dir/message.json"
check "s-nail text" '.data | contains("\r\n\r\nGr=C3=BC=C3=9Fe\r\n=2E\r\nend\r\n")' "$dir/message.json"
# Decode the attachment from the message and compare it with the file.
jq -j .data "$dir/message.json" >"$dir/received.eml"
awk '/filename="data.bin"/ { found = 1 } found && /^\r?$/ { body = 1; next } body && /^--/ { exit } body' \
    "$dir/received.eml" | tr -d '\r' | base64 -d >"$dir/received.bin" || true
if ! cmp -s "$dir/received.bin" "$dir/data.bin"; then
    echo "FAIL s-nail attachment: the decoded attachment differs from data.bin" >&2
    failures=$((failures + 1))
fi
finish
