<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;
use Symfony\Component\Mailer\Exception\TransportException;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mailer\Transport\Smtp\EsmtpTransport;
use Symfony\Component\Mime\Email;

/**
 * Symfony Mailer over STARTTLS and implicit TLS with AUTH, verifying the
 * certificate that smtpcatch generates and writes with --tls-cert-out.
 */
final class TlsAuthTest extends TestCase
{
    use SmtpcatchTrait;

    /** smtpcatch options of each test, after `--timeout` and `--tls-cert-out`. */
    private const OPTIONS = [
        'testStarttlsWithTrustedCertificate' => ['--tls', 'starttls', '--auth', 'user:pass', '--require-tls'],
        'testCertificateFileWrittenBeforeReady' => ['--tls', 'implicit'],
        'testStarttlsUntrustedCertificateFails' => ['--tls', 'starttls'],
        'testImplicitTlsWithTrustedCertificate' => ['--tls', 'implicit', '--auth', 'user:pass'],
        'testWrongPasswordFailsWith535' => ['--tls', 'starttls', '--auth', 'alice:secret', '--require-auth'],
    ];

    /** Directory of this test's certificate file, removed in tearDown(). */
    private string $certDir;

    /** PEM file that smtpcatch writes its certificate to. */
    private string $certFile;

    protected function setUp(): void
    {
        $this->certDir = sys_get_temp_dir() . '/smtpcatch-tls-' . bin2hex(random_bytes(8));
        if (!mkdir($this->certDir, 0700)) {
            $this->fail("failed to create the directory {$this->certDir}");
        }
        $this->certFile = $this->certDir . '/cert.pem';
        $this->startSmtpcatch();
    }

    protected function tearDown(): void
    {
        try {
            $this->stopSmtpcatch();
        } finally {
            // smtpcatch leaves the --tls-cert-out file in place after it exits.
            foreach (glob($this->certDir . '/*') ?: [] as $file) {
                unlink($file);
            }
            rmdir($this->certDir);
        }
    }

    protected function smtpcatchOptions(): array
    {
        $name = $this->getName(false);
        if (!isset(self::OPTIONS[$name])) {
            $this->fail("missing smtpcatch options for the test {$name}: add them to TlsAuthTest::OPTIONS");
        }

        return ['--timeout', '60', '--tls-cert-out', $this->certFile, ...self::OPTIONS[$name]];
    }

    /** Creates the transport for $dsn, trusting only smtpcatch's certificate for the name localhost. */
    private function trustingTransport(string $dsn): EsmtpTransport
    {
        $transport = Transport::fromDsn($dsn);
        $this->assertInstanceOf(EsmtpTransport::class, $transport);
        $transport->getStream()->setStreamOptions([
            'ssl' => ['cafile' => $this->certFile, 'peer_name' => 'localhost'],
        ]);

        return $transport;
    }

    private static function email(string $subject): Email
    {
        return (new Email())->from('app@example.com')->to('user@example.com')->subject($subject)->text("{$subject}\n");
    }

    /** Asserts that $message arrived over TLS 1.x with a named cipher suite. */
    private function assertTls(array $message): void
    {
        $this->assertIsArray($message['tls'], 'the message line has no tls member: ' . json_encode($message));
        $this->assertMatchesRegularExpression('/^TLSv1\./', $message['tls']['version']);
        $this->assertIsString($message['tls']['cipher']);
        $this->assertNotSame('', $message['tls']['cipher']);
    }

    /**
     * Asserts that $message authenticated as $username with CRAM-MD5, which
     * Symfony Mailer 5.4 tries first and has no setting to skip. CRAM-MD5
     * sends a digest, not the password, and smtpcatch checked that digest
     * against its --auth password.
     */
    private function assertCramMd5(array $message, string $username): void
    {
        $this->assertSame(['mechanism', 'username', 'response'], array_keys($message['auth'] ?? []), json_encode($message));
        $this->assertSame('CRAM-MD5', $message['auth']['mechanism']);
        $this->assertSame($username, $message['auth']['username']);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $message['auth']['response']);
    }

    public function testCertificateFileWrittenBeforeReady(): void
    {
        $pem = file_get_contents($this->certFile);

        $this->assertMatchesRegularExpression('/^-----BEGIN CERTIFICATE-----\r?\n.+-----END CERTIFICATE-----\r?\n?$/s', $pem);
        $certificate = openssl_x509_parse($pem);
        $this->assertIsArray($certificate, 'the --tls-cert-out file is not a certificate that OpenSSL can read');
        $this->assertStringContainsString('DNS:localhost', $certificate['extensions']['subjectAltName'] ?? '');
    }

    public function testStarttlsWithTrustedCertificate(): void
    {
        $sent = $this->trustingTransport("smtp://user:pass@127.0.0.1:{$this->smtpcatchPort}")->send(self::email('STARTTLS'));
        $message = $this->nextMessage();

        $this->assertStringContainsString("STARTTLS\r\n", $sent->getDebug());
        $this->assertSame(['user@example.com'], $message['rcpt_to']);
        $this->assertTls($message);
        $this->assertCramMd5($message, 'user');
        $this->assertSame(ExpectedData::forDataCommand($sent->getMessage()->toString()), $message['data']);
    }

    public function testStarttlsUntrustedCertificateFails(): void
    {
        // Without the cafile, PHP's default trust store cannot verify the
        // self-signed certificate, so this shows that the other tests verify it.
        $transport = Transport::fromDsn("smtp://user:pass@127.0.0.1:{$this->smtpcatchPort}");

        try {
            $transport->send(self::email('Untrusted'));
            $this->fail('sending with an untrusted certificate succeeded');
        } catch (TransportException $e) {
            $this->assertStringContainsString('Unable to connect with STARTTLS', $e->getMessage());
            $this->assertStringContainsString('certificate verify failed', $e->getMessage());
        }
        $this->assertNoMessage();
    }

    public function testImplicitTlsWithTrustedCertificate(): void
    {
        $sent = $this->trustingTransport("smtps://user:pass@127.0.0.1:{$this->smtpcatchPort}")->send(self::email('Implicit'));
        $message = $this->nextMessage();

        $this->assertStringNotContainsString('STARTTLS', $sent->getDebug());
        $this->assertSame(['user@example.com'], $message['rcpt_to']);
        $this->assertTls($message);
        $this->assertCramMd5($message, 'user');
    }

    public function testWrongPasswordFailsWith535(): void
    {
        $transport = $this->trustingTransport("smtp://alice:wrong@127.0.0.1:{$this->smtpcatchPort}");

        try {
            $transport->send(self::email('Wrong password'));
            $this->fail('sending with a wrong password succeeded');
        } catch (TransportException $e) {
            $this->assertStringContainsString('Failed to authenticate on SMTP server with username "alice"', $e->getMessage());
            $this->assertStringContainsString('535', $e->getMessage());
        }
        $this->assertNoMessage();
    }
}
