<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use Symfony\Component\Mailer\Envelope;
use Symfony\Component\Mailer\SentMessage;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mailer\Transport\TransportInterface;
use Symfony\Component\Mime\Address;
use Symfony\Component\Mime\Email;

/** Symfony Mailer, the library under Laravel's and Symfony's mail, sending to smtpcatch. */
final class SymfonyMailerTest extends TestCase
{
    use SmtpcatchTrait;

    private function transport(): TransportInterface
    {
        // smtpcatch offers no STARTTLS without --tls, so Symfony 5.4 sends in
        // plain text.
        // auto_tls=false keeps plain text on a server that offers STARTTLS too.
        // Symfony reads the option from version 7.1 on, and 5.4 ignores it.
        return Transport::fromDsn("smtp://127.0.0.1:{$this->smtpcatchPort}?auto_tls=false");
    }

    private static function sentBytes(SentMessage $sent): string
    {
        return $sent->getMessage()->toString();
    }

    public function testEmailEnvelopeAndData(): void
    {
        $attachment = "PDF-ish \x00\x01\xfe\xff bytes\r\n.\r\nend";
        $email = (new Email())
            ->from(new Address('app@example.com', 'The App'))
            ->to('user@example.com')
            ->cc('manager@example.com')
            ->bcc('audit@example.com')
            ->subject('Grüße, 你好 ✓')
            ->text("Hello Jürgen,\n.\n..a line that starts with dots\nBye\n")
            ->html('<p>Hello <b>Jürgen</b></p>')
            ->attach($attachment, 'report.bin', 'application/octet-stream');

        $sent = $this->transport()->send($email);
        $message = $this->nextMessage();

        $this->assertSame('app@example.com', $message['mail_from'], $sent->getDebug());
        $this->assertSame(['user@example.com', 'manager@example.com', 'audit@example.com'], $message['rcpt_to']);
        $this->assertSame(ExpectedData::forDataCommand(self::sentBytes($sent)), $message['data']);
        $this->assertSame(strlen($message['data']), $message['size']);
        $this->assertSame([], $message['warnings']);
        $this->assertTrue($message['esmtp']);
        $this->assertSame('127.0.0.1', $message['client']['address']);

        $data = $message['data'];
        [$headers] = explode("\r\n\r\n", $data, 2);
        $this->assertStringContainsString("\r\nCc: manager@example.com\r\n", $headers);
        $this->assertStringNotContainsStringIgnoringCase('audit@example.com', $data, 'Bcc belongs in the envelope only');
        $decoded = iconv_mime_decode_headers($headers, ICONV_MIME_DECODE_CONTINUE_ON_ERROR, 'UTF-8');
        $this->assertSame('Grüße, 你好 ✓', $decoded['Subject']);
        $this->assertStringContainsString("\r\n.\r\n..a line that starts with dots\r\n", $data);
        $this->assertStringContainsString('Content-Type: text/html; charset=utf-8', $data);
        $this->assertStringContainsString(chunk_split(base64_encode($attachment), 76, "\r\n"), $data);
    }

    public function testEnvelopeOverridesHeaders(): void
    {
        $email = (new Email())
            ->from('app@example.com')
            ->to('user@example.com')
            ->subject('Bounce handling')
            ->text('Hello');
        $envelope = new Envelope(
            new Address('bounces+42@example.com'),
            [new Address('first@example.org'), new Address('second@example.org')]
        );

        $sent = $this->transport()->send($email, $envelope);
        $message = $this->nextMessage();

        $this->assertSame('bounces+42@example.com', $message['mail_from']);
        $this->assertSame(['first@example.org', 'second@example.org'], $message['rcpt_to']);
        $this->assertSame(ExpectedData::forDataCommand(self::sentBytes($sent)), $message['data']);
        $this->assertStringContainsString("\r\nTo: user@example.com\r\n", $message['data']);
    }

    public function testMessagesOnOneConnectionInOrder(): void
    {
        $transport = $this->transport();
        $sent = [];
        foreach (['one', 'two', 'three'] as $subject) {
            $email = (new Email())->from('app@example.com')->to("{$subject}@example.com")
                ->subject($subject)->text("Message {$subject}");
            $sent[] = $transport->send($email);
        }

        $messages = [$this->nextMessage(), $this->nextMessage(), $this->nextMessage()];

        $this->assertSame([1, 2, 3], array_column($messages, 'id'));
        $this->assertSame([['one@example.com'], ['two@example.com'], ['three@example.com']], array_column($messages, 'rcpt_to'));
        foreach ($messages as $index => $message) {
            $this->assertSame(ExpectedData::forDataCommand(self::sentBytes($sent[$index])), $message['data']);
        }
        $clientPorts = array_unique(array_column(array_column($messages, 'client'), 'port'));
        $this->assertCount(1, $clientPorts, 'Symfony keeps one SMTP connection for the three messages');
    }

    public function testLocalhostReachesServer(): void
    {
        // smtpcatch binds 127.0.0.1 and ::1, so either address that localhost resolves to works.
        $email = (new Email())->from('app@example.com')->to('user@example.com')->subject('Hi')->text('Hello');

        Transport::fromDsn("smtp://localhost:{$this->smtpcatchPort}")->send($email);
        $message = $this->nextMessage();

        $this->assertContains($message['client']['address'], ['127.0.0.1', '::1']);
        $this->assertSame(['user@example.com'], $message['rcpt_to']);
    }

    public function testLargeAttachmentReadAfterSending(): void
    {
        // 3 MiB is larger than a pipe's buffer, so smtpcatch queues its line until the test reads.
        mt_srand(5321);
        $attachment = '';
        for ($i = 0; $i < 3 * 1024 * 1024 / 4; $i++) {
            $attachment .= pack('N', mt_rand());
        }
        $email = (new Email())->from('app@example.com')->to('user@example.com')
            ->subject('Large')->text('See the attachment.')
            ->attach($attachment, 'large.bin', 'application/octet-stream');

        $sent = $this->transport()->send($email);
        $message = $this->nextMessage();

        $this->assertSame(ExpectedData::forDataCommand(self::sentBytes($sent)), $message['data']);
        $this->assertStringContainsString(chunk_split(base64_encode($attachment), 76, "\r\n"), $message['data']);
        $this->assertSame([], $message['warnings']);
    }
}
