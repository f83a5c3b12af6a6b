<?php

declare(strict_types=1);

// Debian's packages install these autoloaders (php-symfony-mailer, libphp-phpmailer).
// A Composer project loads vendor/autoload.php instead.
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';
require_once '/usr/share/php/libphp-phpmailer/autoload.php';
require_once __DIR__ . '/Smtpcatch.php';
require_once __DIR__ . '/SmtpcatchTrait.php';
require_once __DIR__ . '/ExpectedData.php';
