<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Email;

/** The README's fixture in a TestCase that has its own setUp() and tearDown(). */
final class ReadmeFixtureOwnSetUpTest extends TestCase
{
    use Smtpcatch {
        setUp as startSmtpcatch;
        tearDown as stopSmtpcatch;
    }

    private string $sender;

    protected function setUp(): void
    {
        $this->startSmtpcatch();
        $this->sender = 'app@example.com';
    }

    protected function tearDown(): void
    {
        $this->stopSmtpcatch();
    }

    public function testAliasedHooksStartSmtpcatch(): void
    {
        $mailer = Transport::fromDsn("smtp://127.0.0.1:{$this->smtpPort}");
        $mailer->send((new Email())->from($this->sender)->to('user@example.com')->subject('Hi')->text('Hello'));

        $message = $this->nextLine();

        $this->assertSame('app@example.com', $message['mail_from']);
        $this->assertSame(['user@example.com'], $message['rcpt_to']);
    }
}
