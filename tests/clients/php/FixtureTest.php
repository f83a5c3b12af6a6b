<?php

declare(strict_types=1);

use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Email;

/** The fixture itself: isolation between tests, teardown, and its failure messages. */
final class FixtureTest extends TestCase
{
    use SmtpcatchTrait;

    /** Fixtures that a test starts besides its own. tearDown() stops them. */
    private array $extraFixtures = [];

    /** Replaces the trait's tearDown(), so it stops this test's smtpcatch too. */
    protected function tearDown(): void
    {
        $failure = null;
        foreach ([...$this->extraFixtures, $this] as $fixture) {
            try {
                $fixture === $this ? $this->stopSmtpcatch() : $fixture->stop();
            } catch (AssertionFailedError $stopFailure) {
                $failure ??= $stopFailure;
            }
        }
        if ($failure !== null) {
            throw $failure;
        }
    }

    /** Starts a second fixture, as another TestCase running at the same time would. */
    private function startExtraFixture(array $options = ['--timeout', '60']): TestCase
    {
        $fixture = new class ($options) extends TestCase {
            use SmtpcatchTrait {
                startSmtpcatch as public start;
                stopSmtpcatch as public stop;
                nextMessage as public;
                assertNoMessage as public;
            }

            private array $options;

            public function __construct(array $options)
            {
                parent::__construct('extraFixture');
                $this->options = $options;
            }

            protected function smtpcatchOptions(): array
            {
                return $this->options;
            }

            public function port(): int
            {
                return $this->smtpcatchPort;
            }

            public function pid(): int
            {
                return $this->smtpcatchReady['pid'];
            }
        };
        $this->extraFixtures[] = $fixture;
        $fixture->start();

        return $fixture;
    }

    private static function send(int $port, string $subject): void
    {
        $email = (new Email())->from('app@example.com')->to('user@example.com')
            ->subject($subject)->text('Hello');
        Transport::fromDsn("smtp://127.0.0.1:{$port}")->send($email);
    }

    private static function subjectOf(array $message): string
    {
        preg_match('/^Subject: (.*)\r$/m', $message['data'], $match);

        return $match[1] ?? '';
    }

    private static function assertProcessGone(int $pid): void
    {
        $cmdline = @file_get_contents("/proc/{$pid}/cmdline");
        // A new process may get the same pid, so only an smtpcatch at that pid fails the check.
        self::assertTrue($cmdline === false || !str_contains($cmdline, 'smtpcatch'), "smtpcatch pid {$pid} still exists");
    }

    private static function assertPortClosed(string $host, int $port): void
    {
        $socket = @stream_socket_client("tcp://{$host}:{$port}", $errno, $error, 2.0);
        self::assertFalse($socket, "{$host} port {$port} still accepts connections");
        self::assertSame(SOCKET_ECONNREFUSED, $errno, "connecting to {$host} port {$port}: {$error}");
    }

    public function testReadyLineNamesOwnProcess(): void
    {
        $status = proc_get_status($this->smtpcatchProcess);

        $this->assertSame('ready', $this->smtpcatchReady['event']);
        $this->assertSame($status['pid'], $this->smtpcatchReady['pid'], 'proc_open runs smtpcatch without a shell');
        $this->assertSame($this->smtpcatchReady['port'], $this->smtpcatchPort);
        $this->assertGreaterThan(0, $this->smtpcatchPort);
        $this->assertContains('127.0.0.1', $this->smtpcatchReady['addresses']);
    }

    public function testFirstTestLeavesMailUnread(): array
    {
        self::send($this->smtpcatchPort, 'from the first test');

        $this->assertCount(1, $this->smtpcatchLines, 'the test read only the ready line');

        return ['pid' => $this->smtpcatchReady['pid'], 'port' => $this->smtpcatchPort];
    }

    /**
     * @depends testFirstTestLeavesMailUnread
     */
    public function testNextTestSeesOnlyItsOwnMail(array $first): void
    {
        $this->assertNotSame($first['pid'], $this->smtpcatchReady['pid']);
        self::assertProcessGone($first['pid']);
        if ($first['port'] !== $this->smtpcatchPort) {
            self::assertPortClosed('127.0.0.1', $first['port']);
        }

        self::send($this->smtpcatchPort, 'from the second test');
        $message = $this->nextMessage();

        $this->assertSame(1, $message['id']);
        $this->assertSame('from the second test', self::subjectOf($message));
        $this->assertNoMessage(0.3);
    }

    public function testConcurrentFixturesAreSeparate(): void
    {
        $other = $this->startExtraFixture();
        $this->assertNotSame($this->smtpcatchPort, $other->port());

        self::send($other->port(), 'to the other fixture');
        self::send($this->smtpcatchPort, 'to this fixture');

        $this->assertSame('to this fixture', self::subjectOf($this->nextMessage()));
        $this->assertSame('to the other fixture', self::subjectOf($other->nextMessage()));
        $this->assertNoMessage(0.2);
        $other->assertNoMessage(0.2);
    }

    public function testTeardownLeavesNoProcessOrPort(): void
    {
        $other = $this->startExtraFixture();
        $pid = $other->pid();
        $port = $other->port();
        self::send($port, 'left unread at teardown');

        $other->stop();

        self::assertProcessGone($pid);
        self::assertPortClosed('127.0.0.1', $port);
        self::assertPortClosed('[::1]', $port);
        $other->stop();
    }

    public function testTimeoutFailureShowsWhatArrived(): void
    {
        self::send($this->smtpcatchPort, 'the only message');
        $this->nextMessage();
        $started = microtime(true);

        try {
            $this->nextMessage(0.3);
            $this->fail('nextMessage() returned without a message');
        } catch (AssertionFailedError $failure) {
            $text = $failure->getMessage();
        }

        $elapsed = microtime(true) - $started;
        $this->assertGreaterThanOrEqual(0.3, $elapsed);
        $this->assertLessThan(2.0, $elapsed);
        $this->assertStringContainsString('no message line from smtpcatch within 0.3 s', $text);
        $this->assertStringContainsString('smtpcatch is running', $text);
        $this->assertStringContainsString('stdout lines read: 2', $text);
        $this->assertStringContainsString('Subject: the only message', $text);
    }

    public function testExitedServerFailureIsImmediate(): void
    {
        $other = $this->startExtraFixture(['--count', '1', '--timeout', '60']);
        self::send($other->port(), 'the counted message');
        $other->nextMessage();
        $started = microtime(true);

        try {
            $other->nextMessage(10.0);
            $this->fail('nextMessage() returned without a message');
        } catch (AssertionFailedError $failure) {
            $text = $failure->getMessage();
        }

        $this->assertLessThan(5.0, microtime(true) - $started);
        $this->assertStringContainsString("smtpcatch's stdout ended before message line", $text);
        $this->assertStringContainsString('smtpcatch exited with status 0', $text);
    }

    public function testMissingBinaryFailsClearly(): void
    {
        $previous = getenv('SMTPCATCH_BIN');
        putenv('SMTPCATCH_BIN=/nonexistent/smtpcatch');
        try {
            $this->startExtraFixture();
            $this->fail('the fixture started without a binary');
        } catch (AssertionFailedError $failure) {
            $text = $failure->getMessage();
        } finally {
            putenv($previous === false ? 'SMTPCATCH_BIN' : "SMTPCATCH_BIN={$previous}");
        }

        $this->assertStringContainsString("smtpcatch's stdout ended before the ready line", $text);
        $this->assertStringContainsString('exited with status 127', $text);
        $this->assertStringContainsString('set SMTPCATCH_BIN or put smtpcatch on PATH', $text);

        $this->expectException(AssertionFailedError::class);
        $this->expectExceptionMessage('smtpcatch exited with status 127, expected 0 after SIGTERM');
        array_pop($this->extraFixtures)->stop();
    }

    public function testNonUtf8DataArrivesAsBase64(): void
    {
        $body = "Subject: Latin-1\r\n\r\nGr\xfc\xdfe\r\n";
        $client = stream_socket_client("tcp://127.0.0.1:{$this->smtpcatchPort}", $errno, $error, 5.0);
        $this->assertNotFalse($client, $error);
        stream_set_timeout($client, 5);
        $replies = '';
        foreach (["", "EHLO test.example\r\n", "MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.com>\r\n",
                  "DATA\r\n", $body . ".\r\n", "QUIT\r\n"] as $command) {
            fwrite($client, $command);
            do {
                $reply = fgets($client);
                $replies .= $reply;
            } while ($reply !== false && $reply[3] === '-');
        }
        fclose($client);

        $message = $this->nextMessage();

        $this->assertStringContainsString("\r\n250 2.0.0", $replies);
        $this->assertArrayNotHasKey('data', $message);
        $this->assertSame($body, self::messageData($message));
        $this->assertSame(['8bit_without_8bitmime'], $message['warnings']);
    }
}
