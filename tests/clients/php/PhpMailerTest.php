<?php

declare(strict_types=1);

use PHPMailer\PHPMailer\PHPMailer;
use PHPUnit\Framework\TestCase;

/** PHPMailer sending to smtpcatch, compared byte for byte with what it built. */
final class PhpMailerTest extends TestCase
{
    use SmtpcatchTrait;

    private function mailer(): PHPMailer
    {
        $mailer = new PHPMailer(true);
        $mailer->isSMTP();
        $mailer->Host = '127.0.0.1';
        $mailer->Port = $this->smtpcatchPort;
        $mailer->SMTPAutoTLS = false;
        $mailer->SMTPAuth = false;
        $mailer->Timeout = 10;
        $mailer->Hostname = 'app.example.com';
        $mailer->CharSet = PHPMailer::CHARSET_UTF8;

        return $mailer;
    }

    /**
     * Builds the message, sends it and returns the exact bytes PHPMailer built.
     *
     * send() would build the message again with new MIME boundaries, so this
     * calls preSend() and postSend() itself.
     */
    private static function sendAndReturnMessage(PHPMailer $mailer): string
    {
        $mailer->preSend();
        $built = $mailer->getSentMIMEMessage();
        $mailer->postSend();

        return $built;
    }

    public function testAttachmentAndUtf8ByteForByte(): void
    {
        $mailer = $this->mailer();
        $mailer->setFrom('app@example.com', 'Die Anwendung');
        $mailer->addAddress('user@example.com', 'Jürgen Müller');
        $mailer->addCC('manager@example.com');
        $mailer->addBCC('audit@example.com');
        $mailer->Subject = 'Grüße, 你好 ✓';
        $mailer->isHTML(true);
        $mailer->Body = "<p>Hallo Jürgen,</p>\n.\n..dots at the start\n<p>Tschüss</p>\n";
        $mailer->AltBody = "Hallo Jürgen,\n.\n..dots at the start\nTschüss\n";
        $attachment = "binary \x00\x01\xfe\xff\r\n.\r\nend";
        $mailer->addStringAttachment($attachment, 'report.bin', PHPMailer::ENCODING_BASE64, 'application/octet-stream');
        $mailer->addAttachment(__FILE__, 'test.php', PHPMailer::ENCODING_BASE64, 'text/x-php');

        $built = self::sendAndReturnMessage($mailer);
        $message = $this->nextMessage();

        $this->assertSame('app@example.com', $message['mail_from']);
        $this->assertSame(['user@example.com', 'manager@example.com', 'audit@example.com'], $message['rcpt_to']);
        $this->assertSame('app.example.com', $message['helo']);
        $this->assertSame(ExpectedData::forDataCommand($built), $message['data']);
        $this->assertSame(strlen($message['data']), $message['size']);
        // PHPMailer 6.6 sends the UTF-8 body as 8bit but never sends BODY=8BITMIME.
        $this->assertSame(['8bit_without_8bitmime'], $message['warnings']);

        $data = $message['data'];
        [$headers] = explode("\r\n\r\n", $data, 2);
        $this->assertStringNotContainsStringIgnoringCase('audit@example.com', $data, 'Bcc belongs in the envelope only');
        $decoded = iconv_mime_decode_headers($headers, ICONV_MIME_DECODE_CONTINUE_ON_ERROR, 'UTF-8');
        $this->assertSame('Grüße, 你好 ✓', $decoded['Subject']);
        $this->assertSame('Jürgen Müller <user@example.com>', $decoded['To']);
        $this->assertSame('manager@example.com', $decoded['Cc']);
        $this->assertStringContainsString("\r\n.\r\n..dots at the start\r\n", $data);
        $this->assertStringContainsString(chunk_split(base64_encode($attachment), 76, "\r\n"), $data);
        $this->assertStringContainsString(chunk_split(base64_encode(file_get_contents(__FILE__)), 76, "\r\n"), $data);
    }

    public function testQuotedPrintableHasNoWarnings(): void
    {
        $mailer = $this->mailer();
        $mailer->setFrom('app@example.com');
        $mailer->addAddress('user@example.com');
        $mailer->Subject = 'Grüße';
        $mailer->Encoding = PHPMailer::ENCODING_QUOTED_PRINTABLE;
        $mailer->Body = "Hallo Jürgen,\n.\nTschüss\n";

        $built = self::sendAndReturnMessage($mailer);
        $message = $this->nextMessage();

        $this->assertSame(ExpectedData::forDataCommand($built), $message['data']);
        $this->assertSame([], $message['warnings']);
        $this->assertSame([], $message['mail_params']);
    }

    public function testDsnNotifyParameter(): void
    {
        $mailer = $this->mailer();
        $mailer->setFrom('app@example.com');
        $mailer->addAddress('user@example.com');
        $mailer->addAddress('other@example.com');
        $mailer->dsn = 'SUCCESS,FAILURE';
        $mailer->Subject = 'Delivery status';
        $mailer->Body = 'Hello';

        $built = self::sendAndReturnMessage($mailer);
        $message = $this->nextMessage();

        $this->assertSame(['user@example.com', 'other@example.com'], $message['rcpt_to']);
        $this->assertSame([['NOTIFY' => 'SUCCESS,FAILURE'], ['NOTIFY' => 'SUCCESS,FAILURE']], $message['rcpt_params']);
        $this->assertSame(ExpectedData::forDataCommand($built), $message['data']);
    }

    public function testSenderSetsEnvelopeFrom(): void
    {
        $mailer = $this->mailer();
        $mailer->setFrom('app@example.com', '', false);
        $mailer->Sender = 'bounces+7@example.com';
        $mailer->addAddress('user@example.com');
        $mailer->Subject = 'Bounces go elsewhere';
        $mailer->Body = 'Hello';

        $built = self::sendAndReturnMessage($mailer);
        $message = $this->nextMessage();

        $this->assertSame('bounces+7@example.com', $message['mail_from']);
        $this->assertSame(ExpectedData::forDataCommand($built), $message['data']);
        $this->assertStringContainsString("\r\nFrom: app@example.com\r\n", $message['data']);
    }

    public function testXverpParameterAccepted(): void
    {
        // PHPMailer 6.6 sends XVERP whether or not the server offers it; smtpcatch
        // takes it as given and reports it in mail_params.
        $mailer = $this->mailer();
        $mailer->do_verp = true;
        $mailer->setFrom('app@example.com');
        $mailer->addAddress('user@example.com');
        $mailer->Body = 'Hello';

        $this->assertTrue($mailer->send());
        $message = $this->nextMessage();
        $this->assertSame(['XVERP' => true], $message['mail_params']);
        $mailer->smtpClose();

        $this->assertNoMessage(0.2);
    }

    public function testKeepAliveSendsSeveralMessages(): void
    {
        $mailer = $this->mailer();
        $mailer->SMTPKeepAlive = true;
        $mailer->setFrom('app@example.com');
        $built = [];
        foreach (['first', 'second'] as $name) {
            $mailer->clearAddresses();
            $mailer->addAddress("{$name}@example.com");
            $mailer->Subject = "The {$name} message";
            $mailer->Body = "Hello {$name}";
            $built[] = self::sendAndReturnMessage($mailer);
        }
        $mailer->smtpClose();

        $first = $this->nextMessage();
        $second = $this->nextMessage();

        $this->assertSame([1, 2], [$first['id'], $second['id']]);
        $this->assertSame(['first@example.com'], $first['rcpt_to']);
        $this->assertSame(['second@example.com'], $second['rcpt_to']);
        $this->assertSame(ExpectedData::forDataCommand($built[0]), $first['data']);
        $this->assertSame(ExpectedData::forDataCommand($built[1]), $second['data']);
        $this->assertSame($first['client'], $second['client'], 'PHPMailer keeps one SMTP connection');
    }
}
