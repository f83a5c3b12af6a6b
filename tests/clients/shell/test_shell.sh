#!/usr/bin/env bash
# Tests of smtpcatch driven from a shell script, as a CI job drives it. Each
# test starts smtpcatch in the background with --port-file and waits for the
# port with a bounded loop. It sends with curl or swaks, asserts with jq,
# checks the exit status and cleans up with a trap.
#
# Each test_* function is one test and runs in a subshell. The script prints
# "ok NAME" or "not ok NAME" for each, then the line "N passed, M failed",
# and exits non-zero when a test failed.
set -uo pipefail

if [ -z "${SMTPCATCH_BIN:-}" ] || [ ! -x "$SMTPCATCH_BIN" ]; then
    echo "test_shell.sh: set SMTPCATCH_BIN to the smtpcatch binary (now '${SMTPCATCH_BIN:-}')" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
for tool in curl swaks jq awk base64 cmp; do
    if ! command -v "$tool" >/dev/null; then
        echo "test_shell.sh: $tool is missing; install it (see packages beside this script)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- Helpers. Each test runs in a subshell, so fail ends only that test.

fail() {
    echo "    $*" >&2
    if [ -n "${RUN:-}" ] && [ -s "$RUN/stderr" ]; then
        echo "    smtpcatch stderr: $(cat "$RUN/stderr")" >&2
    fi
    exit 1
}

# Start smtpcatch in the background in a new directory $RUN, with stdout in
# $RUN/out.jsonl. Sets PID and PORT once the port file exists. Pass
# --timeout too, so that every later `wait` is bounded.
start_smtpcatch() {
    RUN=$(mktemp -d "$work/run.XXXXXX")
    "$SMTPCATCH_BIN" --port-file "$RUN/port" "$@" >"$RUN/out.jsonl" 2>"$RUN/stderr" &
    PID=$!
    STARTED+=("$PID")
    local tries
    for ((tries = 0; tries < 500; tries++)); do     # 500 x 10 ms: 5 s at most.
        [ -s "$RUN/port" ] && break
        kill -0 "$PID" 2>/dev/null || fail "smtpcatch exited before it wrote its port file"
        sleep 0.01
    done
    [ -s "$RUN/port" ] || fail "smtpcatch wrote no port file within 5 s"
    PORT=$(<"$RUN/port")
}

# Wait for smtpcatch to exit by itself and check its exit status.
expect_exit() {
    local expected=$1 status
    wait "$PID"
    status=$?
    [ "$status" -eq "$expected" ] || fail "smtpcatch exited with status $status, expected $expected"
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$RUN/stderr"; then
        fail "sanitizer report on stderr"
    fi
}

# Stop every smtpcatch this test started. The test's EXIT trap runs it.
stop_started() {
    local pid
    for pid in "${STARTED[@]}"; do
        if kill -TERM "$pid" 2>/dev/null; then
            wait "$pid"
        fi
    done
}

# Assert that the jq FILTER is true for message line number INDEX (from 0).
assert_message() {
    local index=$1 filter=$2
    jq -e -s --argjson index "$index" \
        "map(select(.event == \"message\"))[\$index] | $filter" "$RUN/out.jsonl" >/dev/null ||
        fail "false for message $index: $filter
    stdout: $(cat "$RUN/out.jsonl")"
}

# Write the data of message line number INDEX to FILE, byte for byte.
message_data() {
    jq -j -s --argjson index "$1" 'map(select(.event == "message"))[$index].data' \
        "$RUN/out.jsonl" >"$2"
}

# Print the message that a swaks transcript shows after DATA, as the server
# takes it: one leading '.' removed from each line, CRLF line endings. The
# transcript shows each data line with its CR, then a newline.
swaks_sent_data() {
    awk '/^<-  354/ { in_data = 1; next }
         in_data && /^ -> \.$/ { exit }
         in_data && /^ -> / {
             line = substr($0, 5)
             sub(/\r$/, "", line)
             if (substr(line, 1, 1) == ".") line = substr(line, 2)
             printf "%s\r\n", line
         }' "$1"
}

send_with_curl() {      # send_with_curl FILE RECIPIENT...
    local file=$1 rcpt_options=() recipient
    shift
    for recipient in "$@"; do
        rcpt_options+=(--mail-rcpt "$recipient")
    done
    # The URL path is the EHLO name; without one curl takes the file name.
    curl -sS --max-time 10 "smtp://127.0.0.1:$PORT/client.test" \
        --mail-from sender@example.com "${rcpt_options[@]}" --upload-file "$file" ||
        fail "curl failed with status $?"
}

# ---- Tests.

test_curl_message_exact_data() {
    start_smtpcatch --count 1 --timeout 10
    printf 'From: sender@example.com\r\nTo: b@example.com\r\nSubject: curl\r\n\r\n.leading dot\r\n.\r\n..two dots\r\nend\r\n' \
        >"$RUN/message.eml"

    send_with_curl "$RUN/message.eml" b@example.com c@example.com
    expect_exit 0

    assert_message 0 '.id == 1'
    assert_message 0 '.mail_from == "sender@example.com"'
    assert_message 0 '.rcpt_to == ["b@example.com", "c@example.com"]'
    assert_message 0 '.helo == "client.test"'
    assert_message 0 '.warnings == []'
    assert_message 0 ".size == $(wc -c <"$RUN/message.eml")"
    assert_message 0 ".mail_params == {\"SIZE\": \"$(wc -c <"$RUN/message.eml")\"}"
    message_data 0 "$RUN/received.eml"
    cmp "$RUN/message.eml" "$RUN/received.eml" || fail "data differs from the file curl sent"
}

test_curl_bcc_only_in_envelope() {
    start_smtpcatch --count 1 --timeout 10
    printf 'To: b@example.com\r\nSubject: bcc\r\n\r\nhello\r\n' >"$RUN/message.eml"

    send_with_curl "$RUN/message.eml" b@example.com hidden@example.com
    expect_exit 0

    assert_message 0 '.rcpt_to == ["b@example.com", "hidden@example.com"]'
    assert_message 0 '.data | contains("hidden") | not'
    message_data 0 "$RUN/received.eml"
    cmp "$RUN/message.eml" "$RUN/received.eml" || fail "data differs from the file curl sent"
}

test_swaks_data_file() {
    start_smtpcatch --count 1 --timeout 10
    # LF line endings: swaks turns them into CRLF and dot-stuffs the lines.
    # It then sends CRLF.CRLF after the file's own final line ending, so
    # the message it delivers ends with an empty line that the file lacks.
    printf 'Subject: swaks file\n\nline one\n.leading dot\n.\nend\n' >"$RUN/message.txt"
    printf 'Subject: swaks file\r\n\r\nline one\r\n.leading dot\r\n.\r\nend\r\n\r\n' >"$RUN/expected.eml"

    swaks --server 127.0.0.1 --port "$PORT" --helo client.test --timeout 5 \
        --from sender@example.com --to b@example.com,c@example.com \
        --data "@$RUN/message.txt" >"$RUN/swaks.log" 2>&1 ||
        fail "swaks failed with status $?: $(cat "$RUN/swaks.log")"
    expect_exit 0

    assert_message 0 '.mail_from == "sender@example.com"'
    assert_message 0 '.rcpt_to == ["b@example.com", "c@example.com"]'
    assert_message 0 '.warnings == []'
    assert_message 0 ".size == $(wc -c <"$RUN/expected.eml")"
    message_data 0 "$RUN/received.eml"
    cmp "$RUN/expected.eml" "$RUN/received.eml" || fail "data differs from the file swaks sent"
    swaks_sent_data "$RUN/swaks.log" >"$RUN/transcript.eml"
    cmp "$RUN/transcript.eml" "$RUN/received.eml" || fail "data differs from the swaks transcript"
}

test_swaks_pipelined_headers_and_body() {
    start_smtpcatch --count 1 --timeout 10

    swaks --server 127.0.0.1 --port "$PORT" --helo client.test --timeout 5 --pipeline \
        --from sender@example.com --to b@example.com --header "Subject: swaks headers" \
        --header "X-Test-Id: 42" --body $'body line\n.dot line' >"$RUN/swaks.log" 2>&1 ||
        fail "swaks failed with status $?: $(cat "$RUN/swaks.log")"
    expect_exit 0

    assert_message 0 '.helo == "client.test"'
    assert_message 0 '.rcpt_to == ["b@example.com"]'
    assert_message 0 '.data | startswith("Date: ")'
    assert_message 0 '.data | contains("\r\nSubject: swaks headers\r\n")'
    assert_message 0 '.data | contains("\r\nX-Test-Id: 42\r\n")'
    # swaks ends its generated body with two more CRLFs.
    assert_message 0 '.data | endswith("\r\n\r\nbody line\r\n.dot line\r\n\r\n\r\n")'
    assert_message 0 '.warnings == []'
    swaks_sent_data "$RUN/swaks.log" >"$RUN/transcript.eml"
    message_data 0 "$RUN/received.eml"
    cmp "$RUN/transcript.eml" "$RUN/received.eml" || fail "data differs from the swaks transcript"
}

test_count_reached_exits_0() {
    start_smtpcatch --count 2 --timeout 10
    printf 'Subject: one\r\n\r\n' >"$RUN/one.eml"
    printf 'Subject: two\r\n\r\n' >"$RUN/two.eml"

    send_with_curl "$RUN/one.eml" one@example.com
    send_with_curl "$RUN/two.eml" two@example.com
    expect_exit 0

    [ "$(wc -l <"$RUN/out.jsonl")" -eq 3 ] || fail "expected 3 lines: $(cat "$RUN/out.jsonl")"
    jq -e -s 'map(.event) == ["ready", "message", "message"]' "$RUN/out.jsonl" >/dev/null ||
        fail "expected a ready line and two message lines"
    assert_message 0 '.id == 1'
    assert_message 0 '.rcpt_to == ["one@example.com"]'
    assert_message 1 '.id == 2'
    assert_message 1 '.rcpt_to == ["two@example.com"]'
}

test_timeout_without_mail_exits_124() {
    start_smtpcatch --count 1 --timeout 0.5

    expect_exit 124

    jq -e -s 'map(.event) == ["ready"]' "$RUN/out.jsonl" >/dev/null ||
        fail "expected only the ready line: $(cat "$RUN/out.jsonl")"
}

test_timeout_keeps_mail_received() {
    start_smtpcatch --count 2 --timeout 1
    printf 'Subject: only one\r\n\r\n' >"$RUN/message.eml"

    send_with_curl "$RUN/message.eml" b@example.com
    expect_exit 124

    assert_message 0 '.rcpt_to == ["b@example.com"]'
    jq -e -s 'map(.event) == ["ready", "message"]' "$RUN/out.jsonl" >/dev/null ||
        fail "expected the ready line and one message line: $(cat "$RUN/out.jsonl")"
}

test_timeout_without_count_exits_0() {
    start_smtpcatch --timeout 0.3

    expect_exit 0
}

test_sigterm_exits_0() {
    start_smtpcatch --timeout 10

    kill -TERM "$PID"
    expect_exit 0
}

test_invalid_option_exits_2() {
    local status
    RUN=$(mktemp -d "$work/run.XXXXXX")

    "$SMTPCATCH_BIN" --count abc >"$RUN/out.jsonl" 2>"$RUN/stderr"
    status=$?

    [ "$status" -eq 2 ] || fail "exit status $status, expected 2"
    [ ! -s "$RUN/out.jsonl" ] || fail "stdout is not empty: $(cat "$RUN/out.jsonl")"
    [ "$(wc -l <"$RUN/stderr")" -eq 1 ] || fail "stderr is not one line"
    grep -q -- "--count" "$RUN/stderr" || fail "stderr does not name --count"
}

test_stop_leaves_nothing_behind() {
    local port_hex
    start_smtpcatch --timeout 10

    kill -TERM "$PID"
    expect_exit 0

    ! kill -0 "$PID" 2>/dev/null || fail "process $PID still runs"
    # The port file is written through a temporary file and rename, and
    # removed at exit; only the output files this script named remain.
    [ "$(ls -A "$RUN" | sort | tr '\n' ' ')" = "out.jsonl stderr " ] ||
        fail "unexpected files: $(ls -A "$RUN")"
    # No socket listens on the port any more (state 0A is LISTEN).
    port_hex=$(printf '%04X' "$PORT")
    ! awk -v port=":$port_hex" '$2 ~ port "$" && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 || fail "port $PORT still has a listening socket"
}

test_every_line_is_json() {
    start_smtpcatch --count 2 --timeout 10
    printf 'Subject: utf-8 \xe2\x80\xa8 separator\r\n\r\n"quoted" \\ back\tslash\r\n' >"$RUN/utf8.eml"
    printf 'Subject: latin-1\r\n\r\ncaf\xe9\r\n' >"$RUN/latin1.eml"

    send_with_curl "$RUN/utf8.eml" b@example.com
    send_with_curl "$RUN/latin1.eml" b@example.com
    expect_exit 0

    [ "$(tail -c 1 "$RUN/out.jsonl" | od -An -c | tr -d ' ')" = '\n' ] ||
        fail "stdout does not end with a newline"
    local line count=0
    while IFS= read -r line; do
        jq -e 'type == "object" and (.event | type == "string")' <<<"$line" >/dev/null ||
            fail "not a JSON object with an event: $line"
        count=$((count + 1))
    done <"$RUN/out.jsonl"
    [ "$count" -eq 3 ] || fail "expected 3 lines, got $count"
    # U+2028 is escaped, so the line is also valid JavaScript.
    ! grep -q $'\xe2\x80\xa8' "$RUN/out.jsonl" || fail "U+2028 is not escaped"
    message_data 0 "$RUN/received.eml"
    cmp "$RUN/utf8.eml" "$RUN/received.eml" || fail "UTF-8 data differs from the file sent"
    assert_message 1 'has("data") | not'
    jq -r -s 'map(select(.event == "message"))[1].data_base64' "$RUN/out.jsonl" |
        base64 -d >"$RUN/received.bin" || fail "data_base64 is not valid base64"
    cmp "$RUN/latin1.eml" "$RUN/received.bin" || fail "data_base64 differs from the file sent"
}

test_readme_example_script() {
    local here status
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    RUN=$(mktemp -d "$work/run.XXXXXX")
    mkdir "$RUN/bin"
    ln -s "$SMTPCATCH_BIN" "$RUN/bin/smtpcatch"

    # The README quotes example.sh, which finds smtpcatch on PATH.
    PATH="$RUN/bin:$PATH" sh "$here/example.sh" >"$RUN/stdout" 2>"$RUN/stderr"
    status=$?

    [ "$status" -eq 0 ] || fail "example.sh exited with status $status"
    [ "$(cat "$RUN/stdout")" = "true" ] || fail "example.sh printed: $(cat "$RUN/stdout")"
    awk '/^```sh$/ { in_block = 1; next } /^```$/ { in_block = 0 } in_block' \
        "$here/README-snippet.md" >"$RUN/snippet.sh"
    cmp "$here/example.sh" "$RUN/snippet.sh" || fail "README-snippet.md does not quote example.sh verbatim"
}

# ---- Runner.

passed=0
failed=0
for name in $(declare -F | awk '$3 ~ /^test_/ { print $3 }'); do
    if (STARTED=(); RUN=; trap stop_started EXIT; "$name"); then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "not ok $name"
        failed=$((failed + 1))
    fi
done

if [ $((passed + failed)) -eq 0 ]; then
    echo "test_shell.sh: no test ran" >&2
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
