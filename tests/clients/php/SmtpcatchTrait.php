<?php

declare(strict_types=1);

use PHPUnit\Framework\Assert;

/**
 * Runs one smtpcatch process per test: started before the test, stopped after it.
 *
 * Use it in any PHPUnit TestCase. A test case that has its own setUp() or
 * tearDown() replaces the trait's, so it calls startSmtpcatch() and
 * stopSmtpcatch() from them. The binary is $SMTPCATCH_BIN, or `smtpcatch`
 * on PATH.
 */
trait SmtpcatchTrait
{
    /** Port smtpcatch listens on, on 127.0.0.1 and on ::1 where the host has it. */
    protected int $smtpcatchPort;

    /** The decoded ready line: port, pid, addresses and version. */
    protected array $smtpcatchReady;

    /** @var resource|null the process from proc_open */
    private $smtpcatchProcess = null;

    /** @var resource[] smtpcatch's stdout and stderr, keyed 1 and 2 */
    private array $smtpcatchPipes = [];

    /** Output bytes read but not yet split into lines, keyed by pipe. */
    private array $smtpcatchBuffers = [1 => '', 2 => ''];

    /** Pipes that reached end of file, keyed by pipe. */
    private array $smtpcatchClosed = [1 => false, 2 => false];

    /** Every complete stdout line read so far, without its newline. */
    private array $smtpcatchLines = [];

    /** Exit status, once proc_get_status() has seen the process end. */
    private ?int $smtpcatchExitStatus = null;

    /**
     * Returns the command-line options; override it to add `--strict` or other options.
     *
     * `--timeout` stops smtpcatch even when PHP dies before the teardown runs.
     */
    protected function smtpcatchOptions(): array
    {
        return ['--timeout', '60'];
    }

    protected function setUp(): void
    {
        $this->startSmtpcatch();
    }

    protected function tearDown(): void
    {
        $this->stopSmtpcatch();
    }

    /** Starts smtpcatch and reads its ready line. */
    protected function startSmtpcatch(): void
    {
        $command = [getenv('SMTPCATCH_BIN') ?: 'smtpcatch', ...$this->smtpcatchOptions()];
        // An array command runs without a shell, so the pid is smtpcatch's own.
        $process = proc_open(
            $command,
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes
        );
        if ($process === false) {
            Assert::fail('proc_open failed for ' . json_encode($command));
        }
        $this->smtpcatchProcess = $process;
        $this->smtpcatchPipes = [1 => $pipes[1], 2 => $pipes[2]];
        $this->smtpcatchBuffers = [1 => '', 2 => ''];
        $this->smtpcatchClosed = [1 => false, 2 => false];
        $this->smtpcatchLines = [];
        $this->smtpcatchExitStatus = null;
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);

        $ready = $this->readSmtpcatchJson(10.0, 'the ready line');
        if (($ready['event'] ?? null) !== 'ready') {
            Assert::fail("smtpcatch's first line is not the ready line\n" . $this->describeSmtpcatch());
        }
        $this->smtpcatchReady = $ready;
        $this->smtpcatchPort = $ready['port'];
    }

    /**
     * Waits for the next message line and returns it decoded.
     *
     * The test fails after $timeout seconds, showing every line that arrived.
     */
    protected function nextMessage(float $timeout = 5.0): array
    {
        $line = $this->readSmtpcatchJson($timeout, 'message line');
        if (($line['event'] ?? null) !== 'message') {
            Assert::fail("expected a message line\n" . $this->describeSmtpcatch());
        }

        return $line;
    }

    /** Fails when a line arrives within $seconds. */
    protected function assertNoMessage(float $seconds = 0.2): void
    {
        $deadline = microtime(true) + $seconds;
        while (!str_contains($this->smtpcatchBuffers[1], "\n") && !$this->smtpcatchClosed[1]) {
            $remaining = $deadline - microtime(true);
            if ($remaining <= 0) {
                return;
            }
            $this->pollSmtpcatch($remaining);
        }
        Assert::fail("expected no line from smtpcatch within {$seconds} s\n" . $this->describeSmtpcatch());
    }

    /** Returns a message's raw bytes, from `data` or from `data_base64` when they are not UTF-8. */
    protected static function messageData(array $message): string
    {
        $bytes = isset($message['data_base64']) ? base64_decode($message['data_base64'], true) : $message['data'] ?? false;
        if (!is_string($bytes)) {
            Assert::fail('message line has neither `data` nor valid `data_base64`: ' . json_encode($message));
        }

        return $bytes;
    }

    /**
     * Stops smtpcatch with SIGTERM, waits for it and checks that it exited with status 0.
     *
     * Every line not read yet must still be valid JSON. Calling it again does nothing.
     */
    protected function stopSmtpcatch(): void
    {
        if ($this->smtpcatchProcess === null) {
            return;
        }
        $problems = [];
        if ($this->pollSmtpcatchExit() === null) {
            proc_terminate($this->smtpcatchProcess, 15); // SIGTERM
        }

        // Read both pipes to their end, so smtpcatch never blocks writing to them.
        $deadline = microtime(true) + 5.0;
        while (!($this->smtpcatchClosed[1] && $this->smtpcatchClosed[2]) && microtime(true) < $deadline) {
            $this->pollSmtpcatch($deadline - microtime(true));
        }
        if ($this->waitForSmtpcatchExit($deadline - microtime(true)) === null) {
            proc_terminate($this->smtpcatchProcess, 9); // SIGKILL
            $problems[] = 'smtpcatch did not exit within 5 s of SIGTERM, so it was killed';
        } elseif ($this->smtpcatchExitStatus !== 0) {
            $problems[] = "smtpcatch exited with status {$this->smtpcatchExitStatus}, expected 0 after SIGTERM";
        }

        while (($end = strpos($this->smtpcatchBuffers[1], "\n")) !== false) {
            $line = $this->takeSmtpcatchLine($end);
            json_decode($line);
            if (json_last_error() !== JSON_ERROR_NONE) {
                $problems[] = 'stdout line is not JSON: ' . json_last_error_msg();
            }
        }
        if ($this->smtpcatchBuffers[1] !== '') {
            $problems[] = 'stdout ends in an incomplete line';
        }

        $description = $this->describeSmtpcatch();
        foreach ($this->smtpcatchPipes as $pipe) {
            fclose($pipe);
        }
        // proc_close() waits for the process; it has already exited here (or got SIGKILL).
        proc_close($this->smtpcatchProcess);
        $this->smtpcatchProcess = null;
        if ($problems !== []) {
            Assert::fail(implode("\n", $problems) . "\n" . $description);
        }
    }

    private function readSmtpcatchJson(float $timeout, string $expected): array
    {
        $deadline = microtime(true) + $timeout;
        while (($end = strpos($this->smtpcatchBuffers[1], "\n")) === false) {
            if ($this->smtpcatchClosed[1]) {
                $this->waitForSmtpcatchExit(2.0);
                Assert::fail("smtpcatch's stdout ended before {$expected}\n" . $this->describeSmtpcatch());
            }
            $remaining = $deadline - microtime(true);
            if ($remaining <= 0) {
                Assert::fail("no {$expected} from smtpcatch within {$timeout} s\n" . $this->describeSmtpcatch());
            }
            $this->pollSmtpcatch($remaining);
        }
        $line = $this->takeSmtpcatchLine($end);
        $decoded = json_decode($line, true);
        if (!is_array($decoded)) {
            Assert::fail('smtpcatch wrote a line that is not a JSON object (' . json_last_error_msg() . ")\n"
                . $this->describeSmtpcatch());
        }

        return $decoded;
    }

    private function takeSmtpcatchLine(int $end): string
    {
        $line = substr($this->smtpcatchBuffers[1], 0, $end);
        $this->smtpcatchBuffers[1] = substr($this->smtpcatchBuffers[1], $end + 1);
        $this->smtpcatchLines[] = $line;

        return $line;
    }

    /** Waits up to $timeout seconds for output and appends what arrives to the buffers. */
    private function pollSmtpcatch(float $timeout): void
    {
        $read = [];
        foreach ($this->smtpcatchPipes as $key => $pipe) {
            if (!$this->smtpcatchClosed[$key]) {
                $read[$key] = $pipe;
            }
        }
        if ($read === []) {
            return;
        }
        $write = null;
        $except = null;
        $seconds = (int) $timeout;
        // A signal interrupts the wait and makes it return false; the caller checks its deadline.
        if (@stream_select($read, $write, $except, $seconds, (int) (($timeout - $seconds) * 1e6)) === false) {
            return;
        }
        foreach ($read as $key => $pipe) {
            $chunk = fread($pipe, 65536);
            if ($chunk !== false && $chunk !== '') {
                $this->smtpcatchBuffers[$key] .= $chunk;
            } elseif (feof($pipe)) {
                $this->smtpcatchClosed[$key] = true;
            }
        }
    }

    /** Returns the exit status once the process has ended, or null while it runs. */
    private function pollSmtpcatchExit(): ?int
    {
        // proc_get_status() reaps the process and reports its status only once, so keep it.
        if ($this->smtpcatchExitStatus === null) {
            $status = proc_get_status($this->smtpcatchProcess);
            if (!$status['running']) {
                $this->smtpcatchExitStatus = $status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'];
            }
        }

        return $this->smtpcatchExitStatus;
    }

    private function waitForSmtpcatchExit(float $timeout): ?int
    {
        $deadline = microtime(true) + $timeout;
        while ($this->pollSmtpcatchExit() === null && microtime(true) < $deadline) {
            usleep(10000);
        }

        return $this->smtpcatchExitStatus;
    }

    private function describeSmtpcatch(): string
    {
        $exit = $this->pollSmtpcatchExit();
        $text = 'smtpcatch ' . ($exit === null ? 'is running' : "exited with status {$exit}");
        if ($exit === 127) {
            $text .= ' (command not found: set SMTPCATCH_BIN or put smtpcatch on PATH)';
        }
        $text .= "\nstdout lines read: " . count($this->smtpcatchLines);
        foreach ($this->smtpcatchLines as $number => $line) {
            $text .= "\n  " . ($number + 1) . ': ' . self::shortenForSmtpcatch($line);
        }
        if ($this->smtpcatchBuffers[1] !== '') {
            $text .= "\nstdout after the last complete line: " . self::shortenForSmtpcatch($this->smtpcatchBuffers[1]);
        }

        return $text . "\nstderr: " . self::shortenForSmtpcatch($this->smtpcatchBuffers[2]);
    }

    private static function shortenForSmtpcatch(string $text): string
    {
        return strlen($text) > 2000 ? substr($text, 0, 2000) . '... (' . strlen($text) . ' bytes)' : $text;
    }
}
