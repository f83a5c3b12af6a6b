<?php

declare(strict_types=1);

/** What smtpcatch reports as `data` for a message that a client sent with DATA. */
final class ExpectedData
{
    /**
     * Returns the data smtpcatch receives when a client sends $message with DATA.
     *
     * Symfony Mailer 5.4 and PHPMailer 6.6 send the message followed by the
     * terminator <CRLF>.<CRLF>, also when the message already ends in CRLF
     * (PHPMailer does so when every line ends in CRLF and none is over 998
     * bytes, as in these tests). RFC 5321 section 4.1.1.4 counts the first
     * CRLF of the terminator as the end of the last line of the data, so a
     * message that ends in CRLF arrives with an empty last line. Dot-stuffing
     * needs no step here, because smtpcatch removes it.
     */
    public static function forDataCommand(string $message): string
    {
        return $message . "\r\n";
    }
}
