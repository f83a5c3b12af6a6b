<?php

declare(strict_types=1);

use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Email;

/** The short fixture that the README shows, used the way the README uses it. */
final class ReadmeFixtureTest extends TestCase
{
    use Smtpcatch;

    public function testSignupSendsMail(): void
    {
        // The code under test would send this mail; Symfony Mailer stands in for it.
        $mailer = Transport::fromDsn("smtp://127.0.0.1:{$this->smtpPort}");
        $mailer->send((new Email())->from('app@example.com')->to('new.user@example.com')
            ->subject('Welcome')->text('Hello'));

        $message = $this->nextLine();
        $this->assertSame(['new.user@example.com'], $message['rcpt_to']);
        $this->assertStringContainsString("\r\nSubject: Welcome\r\n", $message['data']);
    }

    public function testLinesBufferedByPhpAreRead(): void
    {
        // fgets() reads ahead into PHP's stream buffer, which stream_select() must count as readable.
        $mailer = Transport::fromDsn("smtp://127.0.0.1:{$this->smtpPort}");
        foreach (['one', 'two', 'three'] as $subject) {
            $mailer->send((new Email())->from('app@example.com')->to("{$subject}@example.com")
                ->subject($subject)->text('Hello'));
        }

        $recipients = [$this->nextLine(1)['rcpt_to'], $this->nextLine(1)['rcpt_to'], $this->nextLine(1)['rcpt_to']];

        $this->assertSame([['one@example.com'], ['two@example.com'], ['three@example.com']], $recipients);
    }

    public function testTimeoutFailsTheTest(): void
    {
        $started = microtime(true);
        try {
            $this->nextLine(1.5);
            $this->fail('nextLine() returned without a message');
        } catch (AssertionFailedError $failure) {
            $text = $failure->getMessage();
        }

        $elapsed = microtime(true) - $started;
        $this->assertGreaterThanOrEqual(1.5, $elapsed);
        $this->assertLessThan(3.0, $elapsed);
        $this->assertStringContainsString('no line from smtpcatch within 1.5 s', $text);
    }

    public function testTearDownLeavesNoProcess(): void
    {
        $fixture = new class ('fixture') extends TestCase {
            use Smtpcatch {
                setUp as public;
                tearDown as public;
            }

            public function pid(): int
            {
                return proc_get_status($this->smtpcatch)['pid'];
            }

            public function port(): int
            {
                return $this->smtpPort;
            }
        };
        $fixture->setUp();
        $pid = $fixture->pid();
        $port = $fixture->port();

        $fixture->tearDown();

        $cmdline = @file_get_contents("/proc/{$pid}/cmdline");
        $this->assertTrue($cmdline === false || !str_contains($cmdline, 'smtpcatch'), "smtpcatch pid {$pid} still exists");
        $this->assertFalse(@stream_socket_client("tcp://127.0.0.1:{$port}", $errno, $error, 2.0));
        $this->assertSame(SOCKET_ECONNREFUSED, $errno, $error);
    }
}
