# Helpers for the shell tests of this suite (msmtp_test.sh, s_nail_test.sh),
# which source this file. A test calls start, sends with its client, calls
# stop, then check; it ends with finish, which sets its exit status.
# SMTPCATCH_BIN names the binary, else smtpcatch on PATH.

binary=${SMTPCATCH_BIN:-smtpcatch}
dir=$(mktemp -d)
pid=
failures=0
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT

# check LABEL JQ_FILTER FILE: count a failure unless the filter yields true.
check() {
    if ! jq -e "$2" "$3" >/dev/null; then
        printf 'FAIL %s: %s on %s\n' "$1" "$2" "$(head -c 300 "$3")" >&2
        failures=$((failures + 1))
    fi
}

# start OPTIONS...: run smtpcatch for one message and set pid and port.
start() {
    rm -f "$dir/port"
    "$binary" --count 1 --timeout 30 --port-file "$dir/port" "$@" >"$dir/out.jsonl" &
    pid=$!
    for _ in $(seq 500); do         # 500 x 10 ms: 5 s at most.
        [ -s "$dir/port" ] && break
        kill -0 "$pid"              # set -e ends the test if smtpcatch exited.
        sleep 0.01
    done
    port=$(cat "$dir/port")
}

# stop: wait for smtpcatch, check that it reached --count, and write its
# message line to $dir/message.json.
stop() {
    status=0
    wait "$pid" || status=$?
    pid=
    if [ "$status" -ne 0 ]; then
        echo "FAIL smtpcatch exited with status $status" >&2
        failures=$((failures + 1))
    fi
    tail -n +2 "$dir/out.jsonl" >"$dir/message.json"
}

finish() {
    [ "$failures" -eq 0 ]
}
