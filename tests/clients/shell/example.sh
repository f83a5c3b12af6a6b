#!/bin/sh
# Start smtpcatch, wait for its port, send one message, check it with jq.
set -eu
dir=$(mktemp -d)
smtpcatch --count 1 --timeout 10 --port-file "$dir/port" > "$dir/out.jsonl" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 500); do            # wait up to 5 s for the port file
    [ -s "$dir/port" ] && break
    kill -0 "$pid"                 # set -e ends the script if smtpcatch exited
    sleep 0.01
done
port=$(cat "$dir/port")

printf 'Subject: Hi\r\n\r\nHello\r\n' > "$dir/message.eml"
curl -sS --max-time 10 "smtp://127.0.0.1:$port/client.test" --mail-from a@example.com \
     --mail-rcpt b@example.com --upload-file "$dir/message.eml"

wait "$pid"                        # 0: the message arrived; 124: it did not
jq -e 'select(.event == "message") | .rcpt_to == ["b@example.com"]' "$dir/out.jsonl"
