<?php

declare(strict_types=1);

// The README quotes this file from the next line on, so keep it short.
use PHPUnit\Framework\Assert;

/** Starts smtpcatch before each test and stops it after. */
trait Smtpcatch
{
    protected int $smtpPort;
    private $smtpcatch;
    private $smtpcatchOutput;

    protected function setUp(): void
    {
        $command = [getenv('SMTPCATCH_BIN') ?: 'smtpcatch', '--timeout', '60'];
        $this->smtpcatch = proc_open($command, [1 => ['pipe', 'w']], $pipes);
        $this->smtpcatchOutput = $pipes[1];
        $this->smtpPort = $this->nextLine(10)['port'];
    }

    /** Returns the next line smtpcatch writes, decoded: after the ready line, one per message. */
    protected function nextLine(float $timeout = 5): array
    {
        $read = [$this->smtpcatchOutput];
        $none = null;
        $line = stream_select($read, $none, $none, 0, (int) ($timeout * 1e6)) ? fgets($this->smtpcatchOutput) : null;
        $problem = $line === null ? "no line from smtpcatch within {$timeout} s" : 'smtpcatch exited; its stderr shows why';
        Assert::assertIsString($line, $problem);
        return json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    }

    protected function tearDown(): void
    {
        proc_terminate($this->smtpcatch);   // SIGTERM
        fclose($this->smtpcatchOutput);
        Assert::assertSame(0, proc_close($this->smtpcatch));
    }
}
