#!/usr/bin/env ruby
# Test smtpcatch with Ruby's Net::SMTP and the Mail gem, which Rails'
# Action Mailer sends with. Net::SMTP sends a string as it is, so its data
# must come back byte for byte. The Mail gem sends a multipart message with
# a Bcc and a 5 MiB attachment over ::1, then a message over implicit TLS
# with LOGIN, verifying the generated certificate.
#
# Run: SMTPCATCH_BIN=build/release/smtpcatch ruby ruby_mail_test.rb
require "json"
require "mail"
require "net/smtp"
require "tmpdir"

BINARY = ENV.fetch("SMTPCATCH_BIN", "smtpcatch")
$failures = 0

def check(label, expected, actual)
  return if expected == actual

  $failures += 1
  warn "FAIL #{label}: expected #{expected.inspect[0, 300]}, got #{actual.inspect[0, 300]}"
end

# Run smtpcatch with OPTIONS, yield its stdout and port, and return its exit
# status. A test that raises leaves no smtpcatch behind.
def with_smtpcatch(*options)
  server = IO.popen([BINARY, "--timeout", "30", *options], "r")
  begin
    yield server, JSON.parse(server.gets).fetch("port")
  rescue StandardError
    Process.kill("KILL", server.pid)
    raise
  ensure
    server.close
  end
  $?.exitstatus
end

status = with_smtpcatch("--count", "2") do |server, port|
  raw = "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nGr\u00fc\u00dfe \u2603\r\n" + "z" * 5000 + "\r\n"
  Net::SMTP.new("127.0.0.1", port, starttls: false).start(helo: "ruby.client.test") do |smtp|
    smtp.send_message(raw, "a@example.com", "b@example.com", "c@example.com")
  end
  first = JSON.parse(server.gets)
  check("net/smtp data", raw, first["data"])
  check("net/smtp rcpt_to", ["b@example.com", "c@example.com"], first["rcpt_to"])
  check("net/smtp helo", "ruby.client.test", first["helo"])
  check("net/smtp warnings", ["line_over_998", "8bit_without_8bitmime"].sort, first["warnings"].sort)

  # The Mail gem rewrites headers, so the test checks the envelope and the
  # parsed message instead of the bytes.
  attachment = Random.new(1).bytes(5 * 1024 * 1024)
  mail = Mail.new do
    from "app@example.com"
    to "b@example.com"
    bcc "hidden@example.com"
    subject "Gr\u00fc\u00dfe \u2603"
    text_part do
      content_type "text/plain; charset=UTF-8"
      body "Hallo J\u00f6rg \u2713"
    end
    add_file filename: "data.bin", content: attachment
  end
  mail.delivery_method :smtp, address: "::1", port: port, domain: "ruby.client.test",
                              enable_starttls_auto: false
  mail.deliver!
  second = JSON.parse(server.gets)
  check("mail rcpt_to", ["b@example.com", "hidden@example.com"], second["rcpt_to"])
  check("mail client address", "::1", second["client"]["address"])
  parsed = Mail.new(second["data"])
  check("mail subject", "Gr\u00fc\u00dfe \u2603", parsed.subject)
  check("mail bcc header absent", false, second["data"].include?("hidden@example.com"))
  check("mail text", "Hallo J\u00f6rg \u2713", parsed.text_part.decoded.force_encoding("UTF-8"))
  check("mail attachment", attachment, parsed.attachments.first.decoded.b)

  check("no more lines", nil, server.gets)
end
check("exit status", 0, status)

Dir.mktmpdir do |dir|
  cert = File.join(dir, "cert.pem")
  status = with_smtpcatch("--count", "1", "--tls", "implicit", "--tls-cert-out", cert,
                          "--auth", "app@example.com:s3:cret") do |server, port|
    mail = Mail.new(from: "app@example.com", to: "b@example.com", subject: "tls", body: "x")
    mail.delivery_method :smtp, address: "127.0.0.1", port: port, domain: "ruby.client.test", tls: true,
                                ca_file: cert, openssl_verify_mode: "peer",
                                user_name: "app@example.com", password: "s3:cret", authentication: :login
    mail.deliver!
    line = JSON.parse(server.gets)
    check("tls version", "TLSv1.3", line["tls"] && line["tls"]["version"])
    check("tls auth", { "mechanism" => "LOGIN", "username" => "app@example.com", "password" => "s3:cret" },
          line["auth"])
  end
  check("exit status with TLS", 0, status)
end
exit($failures.zero? ? 0 : 1)
