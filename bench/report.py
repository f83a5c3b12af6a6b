#!/usr/bin/python3
"""Turn the results of scripts/bench into Markdown tables: each figure's
median, min and max over the runs, the ratio of smtpcatch to each peer,
and whether each target is met. A ratio is the median over the runs of
the quotient of the two values measured one after the other in a run.
Prints the tables, and with --output writes the benchmarks page.
"""

import argparse
import collections
import datetime
import json
import os
import platform
import statistics

MIB = 1024 * 1024

PEERS = {
    "smtp-sink": "Postfix's test server with its defaults: it reads each message and "
                 "discards it.",
    "smtp-sink -D": "the same with `-D FILE`: it also appends each message, with its "
                    "envelope, to a dump file on tmpfs, the work closest to smtpcatch's "
                    "JSON line.",
    "aiosmtpd": "`bench/aiosmtpd_server.py` on `/usr/bin/python3`: an asyncio server whose "
                "handler writes each message as one JSON line with smtpcatch's members.",
    "smtp-server": "`bench/node/server.js` on Node.js: the handler collects the message "
                   "and writes one JSON line with smtpcatch's members.",
}


class Results:
    """Samples from the results file: for each (figure, config, server,
    metric), the value of each run by run index."""

    def __init__(self, path):
        self.samples = collections.defaultdict(dict)
        self.errors = []
        with open(path) as lines:
            for line in lines:
                item = json.loads(line)
                if item["metric"] == "error":
                    self.errors.append(item)
                    continue
                key = (item["figure"], item.get("config", ""), item["server"], item["metric"])
                self.samples[key][item["run"]] = item["value"]

    def values(self, figure, server, metric, config=""):
        return list(self.samples.get((figure, config, server, metric), {}).values())

    def median(self, figure, server, metric, config=""):
        values = self.values(figure, server, metric, config)
        return statistics.median(values) if values else None

    def ratio(self, figure, server, metric, config="", reference="smtpcatch"):
        """Return the median over runs of reference's value divided by
        server's value in the same run, or None when no run has both.
        Pairing the two values of each run cancels the slow drift of a
        shared machine, which moves both alike."""
        ours = self.samples.get((figure, config, reference, metric), {})
        theirs = self.samples.get((figure, config, server, metric), {})
        quotients = [ours[run] / theirs[run] for run in ours
                     if run in theirs and theirs[run] != 0]
        return statistics.median(quotients) if quotients else None


def number(value):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def spread(values, scale=1.0):
    """Format samples as "median (min–max)", or "–" when there are none."""
    if not values:
        return "–"
    scaled = [v * scale for v in values]
    if len(scaled) == 1:
        return number(scaled[0])
    return f"{number(statistics.median(scaled))} ({number(min(scaled))}–{number(max(scaled))})"


def quotient(value):
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def servers_in(results, figure, config=""):
    order = ["smtpcatch", "/bin/true", "raw TCP", *PEERS]
    found = {key[2] for key in results.samples if key[0] == figure and key[1] == config}
    return [name for name in order if name in found]


def label(name):
    return {"/bin/true": "/bin/true (floor)", "raw TCP": "raw TCP (floor)"}.get(name, name)


def cells(results, figure, name, metric, config="", scale=1.0):
    """Return the "median (min–max)" cell and the ratio cell of one metric."""
    ratio = "–" if name == "smtpcatch" else quotient(
        results.ratio(figure, name, metric, config))
    return f"{spread(results.values(figure, name, metric, config), scale)} | {ratio}"


def startup_table(results):
    rows = ["| server | spawn to ready, ms | smtpcatch ÷ server | spawn to first 250, ms "
            "| smtpcatch ÷ server |", "| --- | --- | --- | --- | --- |"]
    for name in servers_in(results, "startup"):
        first = cells(results, "startup", name, "first_ms")
        if name == "/bin/true":
            first = "– | –"
        rows.append(f"| {label(name)} | {cells(results, 'startup', name, 'ready_ms')} "
                    f"| {first} |")
    return rows


def throughput_configs(results):
    configs = {key[1] for key in results.samples if key[0] == "throughput"}
    return sorted(configs, key=lambda c: ("-d" in c, int(c.split()[1])))


def throughput_table(results):
    rows = ["| load | server | messages | messages/s | smtpcatch ÷ server "
            "| server CPU, µs/message | smtpcatch ÷ server |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for config in throughput_configs(results):
        for name in servers_in(results, "throughput", config):
            counts = sorted({int(v) for v in
                             results.values("throughput", name, "messages", config)})
            rows.append(
                f"| `{config}` | {name} | {', '.join(f'{c:,}' for c in counts)} "
                f"| {cells(results, 'throughput', name, 'msgs_per_s', config)} "
                f"| {cells(results, 'throughput', name, 'server_cpu_us', config)} |")
    return rows


def generator_table(results):
    """Return the table of what smtp-source paid per message for each
    server: its CPU time, its page faults, and the wake-ups of the
    server's core that its sends caused."""
    rows = ["| load | server | smtp-source CPU, µs/message | smtp-source page faults/message "
            "| wake-ups of the server's core/message |", "| --- | --- | --- | --- | --- |"]
    for config in throughput_configs(results):
        for name in servers_in(results, "throughput", config):
            rows.append(
                f"| `{config}` | {name} "
                f"| {spread(results.values('throughput', name, 'generator_cpu_us', config))} "
                f"| {spread(results.values('throughput', name, 'generator_faults', config))} "
                f"| {spread(results.values('throughput', name, 'server_wakeups', config))} |")
    return rows


def large_table(results):
    rows = ["| server | DATA to 250, s | smtpcatch ÷ server | peak RSS, MiB "
            "| smtpcatch ÷ server |", "| --- | --- | --- | --- | --- |"]
    for name in servers_in(results, "large"):
        peak = cells(results, "large", name, "peak_rss_kib", scale=1 / 1024)
        if name == "raw TCP":
            peak = "– | –"
        rows.append(f"| {label(name)} | {cells(results, 'large', name, 'seconds')} "
                    f"| {peak} |")
    return rows


def idle_table(results):
    rows = ["| server | RSS, MiB | smtpcatch ÷ server | KiB per session |",
            "| --- | --- | --- | --- |"]
    for name in servers_in(results, "idle"):
        rows.append(f"| {name} | {cells(results, 'idle', name, 'rss_kib', scale=1 / 1024)} "
                    f"| {spread(results.values('idle', name, 'kib_per_session'))} |")
    return rows


def verdict(value, limit, at_most):
    """Return "met" or "not met" with how far value misses limit."""
    if value is None or limit is None:
        return "not measured"
    if (value <= limit) if at_most else (value >= limit):
        return "met"
    miss = (value / limit - 1 if at_most else 1 - value / limit) * 100
    amount = f"{miss:.1f}%" if miss < 10 else f"{miss:.0f}%"
    return f"**not met**: {amount} {'over' if at_most else 'below'} the limit"


def relative_target(results, target, figure, metric, reference, limit, at_most,
                    config="", unit=""):
    """Return the row of a target on smtpcatch ÷ reference in the same run."""
    ours = results.median(figure, "smtpcatch", metric, config)
    theirs = results.median(figure, reference, metric, config)
    ratio = results.ratio(figure, reference, metric, config)
    bound = "≤" if at_most else "≥"
    return (target, f"{number(ours)}{unit}", f"{number(theirs)}{unit}", quotient(ratio),
            f"{bound} {limit:g}", verdict(ratio, limit, at_most))


def target_rows(results, meta):
    """Yield (target, smtpcatch, reference, ratio, limit, verdict) for every target."""
    yield relative_target(results, "start-up to ready ≤ 2× spawning /bin/true", "startup",
                          "ready_ms", "/bin/true", 2, True, unit=" ms")
    yield relative_target(results, "spawn to first 250 ≤ ½ smtp-sink's", "startup",
                          "first_ms", "smtp-sink", 0.5, True, unit=" ms")
    for config in throughput_configs(results):
        # One session without -d is the target "a new connection plus one
        # message on a running server is no slower than smtp-sink".
        per_connection = " (one new connection per message at a time)" if config == "-s 1" else ""
        yield relative_target(results, f"`{config}`{per_connection}: messages/s ≥ smtp-sink's",
                              "throughput", "msgs_per_s", "smtp-sink", 1, False, config)
    for config in throughput_configs(results):
        yield relative_target(results, f"`{config}`: server CPU per message ≤ smtp-sink's",
                              "throughput", "server_cpu_us", "smtp-sink", 1, True, config,
                              " µs")

    size = meta["message_size"]
    yield relative_target(results, f"{size // MIB} MiB message, DATA to 250 ≤ 3× raw "
                          "loopback TCP", "large", "seconds", "raw TCP", 3, True, unit=" s")
    peak = results.median("large", "smtpcatch", "peak_rss_kib")
    limit = 1.25 * size / 1024 + 8 * 1024
    yield (f"{size // MIB} MiB message, peak RSS ≤ 1.25× its size + 8 MiB",
           f"{number(peak / 1024) if peak else '–'} MiB", "–", "–",
           f"≤ {number(limit / 1024)} MiB", verdict(peak, limit, True))
    rss = results.median("idle", "smtpcatch", "rss_kib")
    yield (f"{meta['idle_sessions']:,} idle sessions, RSS ≤ 64 MiB",
           f"{number(rss / 1024) if rss else '–'} MiB", "–", "–", "≤ 64 MiB",
           verdict(rss, 64 * 1024, True))


def targets_table(results, meta):
    rows = ["| target | smtpcatch | reference | smtpcatch ÷ reference | limit | result |",
            "| --- | --- | --- | --- | --- | --- |"]
    for row in target_rows(results, meta):
        rows.append("| " + " | ".join(row) + " |")
    return rows


def tables(results, meta):
    """Return the Markdown of the targets and of every figure."""
    size = meta["message_size"] // MIB
    parts = [
        "### Targets", "", *targets_table(results, meta), "",
        "### Start-up (lower is better)", "", *startup_table(results), "",
        "### Throughput, 1 KiB messages from smtp-source (messages/s: higher is better; "
        "CPU: lower is better)", "", *throughput_table(results), "",
        "### What smtp-source paid per message (lower is better)", "",
        *generator_table(results), "",
        f"### One {size} MiB message (lower is better)", "", *large_table(results), "",
        f"### {meta['idle_sessions']:,} idle sessions (lower is better)", "",
        *idle_table(results), "",
    ]
    if results.errors:
        parts += ["### Failed measurements", ""]
        parts += [f"- {e['figure']} {e['server']} {e.get('config', '')}: {e['message']}"
                  for e in results.errors]
        parts.append("")
    return "\n".join(parts)


def machine():
    """Return lines that describe this machine, from /proc and uname."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    system = "Linux"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    system = line.split("=", 1)[1].strip().strip('"')
    lines = [f"- CPU: {cpu}, {os.cpu_count()} cores as the kernel sees them",
             f"- memory: {memory_kib / MIB:.1f} GiB",
             f"- system: {system}, kernel {platform.release()}"]
    return lines + idle_polling()


def idle_polling():
    """Return a line on how an idle core waits, when the kernel reports it.

    A core that halts at once must be woken by an interrupt, which the
    waking core pays for. One that polls first is woken cheaply, so the
    setting moves the throughput figures of a server that is often idle.
    """
    try:
        with open("/sys/devices/system/cpu/cpuidle/current_driver") as driver_file:
            driver = driver_file.read().strip()
    except OSError:
        return []
    line = f"- cpuidle driver: {driver}"
    try:
        with open("/sys/module/haltpoll/parameters/guest_halt_poll_ns") as poll_file:
            poll_ns = int(poll_file.read())
        line += (f", guest halt polling up to {poll_ns:,} ns" if poll_ns
                 else ", guest halt polling off (an idle core halts at once)")
    except (OSError, ValueError):
        pass
    return [line]


def servers_table(meta):
    rows = ["| server | version | what runs |", "| --- | --- | --- |",
            f"| smtpcatch | {meta['versions'].get('smtpcatch', '–')} | the Release build "
            "`build/bench/smtpcatch --listen 127.0.0.1:PORT --max-size BYTES "
            "--max-connections 0`, JSON lines to /dev/null |"]
    for name, description in PEERS.items():
        version = meta["versions"].get(name)
        if version:
            rows.append(f"| {name} | {version} | {description} |")
    return rows


def page(results, meta):
    """Return the whole benchmarks page."""
    runs = meta["runs"]
    took = ""
    if meta["minutes"]:
        took = f"\n- duration of the whole run: {meta['minutes']:.0f} minutes"
    load = ""
    if meta["load"]:
        load = (f"- load averages over 1, 5 and 15 minutes before the run: {meta['load']}. "
                "Other work on the machine widens the min–max ranges.")
    return f"""# Benchmarks

How smtpcatch compares with other SMTP servers that tests use, measured
by `scripts/bench` on one machine in one run. Each measured cell is the
median of {runs} runs, with the min and max in parentheses. In each run the
servers are measured one after the other. "smtpcatch ÷ server" divides
smtpcatch's value by the other server's value from the same run, and the
table gives the median of these quotients over the runs. A slow spell of
the machine slows both servers of a run, so it mostly cancels out. The
targets are the goals set for smtpcatch, and a missed one shows by how
much.

## The machine and the run

{chr(10).join(machine())}
- date: {meta['date']}
- smtpcatch {meta['versions'].get('smtpcatch', '?')}, built from commit {meta['commit']}
  (`git describe`, where `-dirty` means uncommitted changes were built too){took}
{load}

## How to rerun

```sh
scripts/bench            # every figure, {runs} runs each; rewrites this page
scripts/bench --quick    # 1 run each, smaller loads, smtp-sink the only peer;
                         # writes nothing
scripts/bench --quick --peers   # the same with every peer
```

`scripts/bench` builds `build/bench` (Release, without tests) and installs
the peers into `${{XDG_CACHE_HOME:-~/.cache}}/smtpcatch-bench`. Postfix's
package is fetched with `apt-get download` and unpacked with `dpkg -x`, so
no mail daemon is installed or started. `python3-aiosmtpd` comes from
`apt-get install` when missing, and smtp-server from `npm ci` with the
lock file in `bench/node/`. Every server listens on 127.0.0.1 only, every
client connects there, and every run has a time limit.

## The servers

{chr(10).join(servers_table(meta))}

## How each figure is measured

- **Start-up**: the time from spawning the server (Python's
  `subprocess.Popen`) until the ready line of `smtpcatch --listen
  127.0.0.1:0` is read from its stdout, or until a peer's port accepts a
  connection (polled every 0.1 ms). The floor is spawning `/bin/true` and
  reaping it. "First 250" goes on to connect, send EHLO, MAIL, RCPT and
  DATA with a 73-byte message, and read the 250.
- **Throughput**: Postfix's `smtp-source -m N -s S -l 1024`, whose
  messages are a few header lines and 1,024 bytes of body. With `-d` each
  session sends all its messages over one connection, and without it each
  message has its own connection. The server runs on one core and
  smtp-source on the other (`taskset`). smtp-source runs with glibc's
  heap never trimmed (`GLIBC_TUNABLES`), because otherwise how often it
  faults its 128 KiB stream buffers back in depends on the server's
  timing; the servers run with glibc's defaults. Messages/s is N over
  smtp-source's wall time. Server CPU is user + system time from
  `/proc/PID/stat` (10 ms ticks) over the load; smtp-source's CPU time
  and minor page faults come from `wait4`. Wake-ups of the server's core
  are the rescheduling and function-call interrupts that core took during
  the load (`/proc/interrupts`): each is a time smtp-source sent to a
  server that was asleep, and its core paid for waking the other one.
  smtp-source exits with status 0 only when every message got a 2xx
  reply. Before the timed runs, smtpcatch runs each load once with
  `--count N` and its stdout in a file, and must exit with status 0 having
  written N message lines.
- **smtp-server without `-d`**: smtp-server waits 100 ms before each
  greeting, to catch clients that talk first, and has no option to turn
  that off (`SMTPConnection.init` in smtp-server 3.21.6). At that pace 20,000 connections take 2,000 s on one session,
  so its count there is capped to {meta['budget']:g} s of greetings per session
  (the messages column shows the count).
- **Large message**: a Python client sends a message of base64 lines to
  the server on the other core and times DATA to the 250. Peak RSS is
  VmHWM from `/proc/PID/status`, read after the 250 while the server
  still runs. The floor sends the same bytes over loopback TCP to a
  Python process that reads them into a 1 MiB buffer and writes one byte
  back at the end.
- **Idle sessions**: a Python process opens the connections (512 at a
  time, under the listen backlog of 1024 that every server gets), reads
  each greeting, waits 0.5 s and reads the server's VmRSS. "KiB per
  session" is the growth over the RSS before the first connection.

## Results

{tables(results, meta)}
{findings()}"""


def findings():
    """Return the hand-written profile notes that follow the tables."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "findings.md")
    with open(path, encoding="utf-8") as notes:
        return "\n" + notes.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="JSON lines from the bench helpers")
    parser.add_argument("--runs", type=int, required=True, help="runs of each figure")
    parser.add_argument("--message-size", type=int, required=True,
                        help="size of the large message in bytes")
    parser.add_argument("--idle-sessions", type=int, required=True)
    parser.add_argument("--budget", type=float, required=True,
                        help="seconds that capped smtp-server's count without -d")
    parser.add_argument("--commit", default="unknown", help="git describe of the tree measured")
    parser.add_argument("--minutes", type=float, help="how long the whole run took")
    parser.add_argument("--load", help="the 1, 5 and 15 minute load averages before the run")
    parser.add_argument("--version", action="append", default=[], metavar="NAME=TEXT",
                        help="the version of server NAME, repeatable")
    parser.add_argument("--output", help="write the benchmarks page to this file")
    args = parser.parse_args()
    meta = {
        "runs": args.runs, "message_size": args.message_size,
        "idle_sessions": args.idle_sessions, "budget": args.budget, "commit": args.commit,
        "minutes": args.minutes, "load": args.load,
        "versions": dict(item.split("=", 1) for item in args.version),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    results = Results(args.results)

    print(tables(results, meta))
    if args.output:
        with open(args.output, "w") as output:
            output.write(page(results, meta))
        print(f"bench: wrote {args.output}")
    if results.errors:
        raise SystemExit(f"bench: {len(results.errors)} measurements failed; see above")


if __name__ == "__main__":
    main()
