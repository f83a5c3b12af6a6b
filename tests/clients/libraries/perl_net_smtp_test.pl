#!/usr/bin/perl
# Test smtpcatch with Perl's Net::SMTP (libnet), which Perl applications and
# Email::Sender send with. In plaintext on ::1 it sends 8-bit data in 1000-byte
# pieces, DSN parameters, 301 recipients and a null sender in one session.
# Then it connects with implicit TLS (IO::Socket::SSL), verifying the
# generated certificate, and authenticates with Authen::SASL.
#
# Run: SMTPCATCH_BIN=build/release/smtpcatch perl perl_net_smtp_test.pl
use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use Net::SMTP;

my $binary = $ENV{SMTPCATCH_BIN} // "smtpcatch";
my $failures = 0;
my $json = JSON::PP->new->canonical;

sub check {
    my ($label, $expected, $actual) = @_;
    my ($e, $a) = map { ref $_ ? $json->encode($_) : defined $_ ? $_ : "(undef)" } $expected, $actual;
    return if $e eq $a;
    $failures++;
    print STDERR "FAIL $label: expected ", substr($e, 0, 300), ", got ", substr($a, 0, 300), "\n";
}

# The smtpcatch that runs now, killed at exit when the test dies before it exits.
my $running_pid;
END { kill "KILL", $running_pid if $running_pid }

# Start smtpcatch with OPTIONS and return its stdout and port.
sub start_smtpcatch {
    my @options = @_;
    $running_pid = open(my $out, "-|", $binary, "--timeout", "30", @options) or die "cannot run $binary: $!";
    my $ready = decode_json(scalar <$out>);
    return ($out, $ready->{port});
}

# Wait for smtpcatch to exit and return its exit status.
sub stop_smtpcatch {
    my ($out) = @_;
    close $out;
    $running_pid = undef;
    return $? >> 8;
}

# Plaintext on ::1: the bytes, DSN parameters and the null sender must arrive as sent.
my ($out, $port) = start_smtpcatch("--count", "2");
my $body = "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nGr\xc3\xbc\xc3\x9fe \xe2\x98\x83\r\n" . ("z" x 5000) . "\r\n";
my $smtp = Net::SMTP->new("::1", Port => $port, Hello => "perl.client.test", Timeout => 10)
    or die "connect failed: $@";
$smtp->mail("a\@example.com", Bits => 8, Return => "HDRS") or die $smtp->message;
$smtp->recipient("b\@example.com", { Notify => ["SUCCESS", "FAILURE"], ORcpt => "rfc822;b\@example.com" }) or die $smtp->message;
$smtp->recipient(map { "r$_\@example.com" } 1 .. 300) or die $smtp->message;
$smtp->data();
$smtp->datasend(substr($body, $_, 1000)) for grep { $_ % 1000 == 0 } 0 .. length($body) - 1;
$smtp->dataend() or die $smtp->message;
$smtp->mail("") or die $smtp->message;
$smtp->to("postmaster\@example.com") or die $smtp->message;
$smtp->data("Subject: bounce\r\n\r\nx\r\n") or die $smtp->message;
$smtp->quit;

my $first = decode_json(scalar <$out>);
check("data", $body, do { my $d = $first->{data}; utf8::encode($d); $d });
check("rcpt count", 301, scalar @{ $first->{rcpt_to} });
check("client address", "::1", $first->{client}{address});
check("mail_params", { BODY => "8BITMIME", RET => "HDRS" }, $first->{mail_params});
check("rcpt_params", { NOTIFY => "SUCCESS,FAILURE", ORCPT => "rfc822;b\@example.com" }, $first->{rcpt_params}[0]);
check("warnings", ["line_over_998"], $first->{warnings});
my $second = decode_json(scalar <$out>);
check("null sender", "", $second->{mail_from});
check("no more lines", undef, scalar <$out>);
check("exit status", 0, stop_smtpcatch($out));

# Implicit TLS on 127.0.0.1, trusting the generated certificate. From the
# offered PLAIN LOGIN CRAM-MD5, Authen::SASL 2.16 picks PLAIN.
my $dir = tempdir(CLEANUP => 1);
($out, $port) = start_smtpcatch("--count", "1", "--tls", "implicit", "--tls-cert-out", "$dir/cert.pem",
    "--auth", "app\@example.com:s3:cret");
$smtp = Net::SMTP->new("127.0.0.1", Port => $port, Hello => "perl.client.test", Timeout => 10,
    SSL => 1, SSL_ca_file => "$dir/cert.pem") or die "TLS connect failed: $@";
$smtp->auth("app\@example.com", "s3:cret") or die "auth failed: ", $smtp->message;
$smtp->mail("a\@example.com");
$smtp->to("b\@example.com");
$smtp->data("Subject: tls\r\n\r\nx\r\n") or die $smtp->message;
$smtp->quit;
my $tls = decode_json(scalar <$out>);
check("tls version", "TLSv1.3", $tls->{tls}{version});
check("auth mechanism", "PLAIN", $tls->{auth}{mechanism});
check("auth username", "app\@example.com", $tls->{auth}{username});
check("auth password", "s3:cret", $tls->{auth}{password});
check("exit status with TLS", 0, stop_smtpcatch($out));
exit($failures ? 1 : 0);
