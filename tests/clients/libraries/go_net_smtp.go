// Test smtpcatch with Go's net/smtp. The low-level client sends in plaintext
// on ::1, where dot lines, UTF-8 and a 5000-byte line must arrive unchanged
// and net/smtp's automatic BODY=8BITMIME and SMTPUTF8 parameters must be
// reported. smtp.SendMail then upgrades with STARTTLS, authenticates with
// PLAIN and sends to 300 recipients, which covers how Go applications
// usually send mail.
//
// Run: SMTPCATCH_BIN=build/release/smtpcatch go run go_net_smtp.go
// It uses only the standard library, so it needs no module or network.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// messageLine contains the members of smtpcatch's JSON lines that the test reads.
type messageLine struct {
	Event    string            `json:"event"`
	Port     int               `json:"port"`
	Helo     string            `json:"helo"`
	MailFrom string            `json:"mail_from"`
	Params   map[string]any    `json:"mail_params"`
	RcptTo   []string          `json:"rcpt_to"`
	Auth     map[string]string `json:"auth"`
	TLS      map[string]string `json:"tls"`
	Warnings []string          `json:"warnings"`
	Data     string            `json:"data"`
}

var failures int

func check(label string, expected, actual any) {
	if reflect.DeepEqual(expected, actual) {
		return
	}
	failures++
	fmt.Fprintf(os.Stderr, "FAIL %s: expected %s, got %s\n", label,
		shorten(fmt.Sprintf("%q", expected)), shorten(fmt.Sprintf("%q", actual)))
}

func shorten(text string) string {
	if len(text) > 300 {
		return text[:300] + "..."
	}
	return text
}

// sendPlain sends body from a@example.com to b@example.com with the
// low-level client, without STARTTLS.
func sendPlain(address, body string) error {
	client, err := smtp.Dial(address)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Hello("go.client.test"); err != nil {
		return err
	}
	if err := client.Mail("a@example.com"); err != nil {
		return err
	}
	if err := client.Rcpt("b@example.com"); err != nil {
		return err
	}
	writer, err := client.Data()
	if err != nil {
		return err
	}
	if _, err := writer.Write([]byte(body)); err != nil {
		return err
	}
	if err := writer.Close(); err != nil {
		return err
	}
	return client.Quit()
}

func run() error {
	binary := os.Getenv("SMTPCATCH_BIN")
	if binary == "" {
		binary = "smtpcatch"
	}
	dir, err := os.MkdirTemp("", "smtpcatch-go")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certFile := filepath.Join(dir, "cert.pem")

	server := exec.Command(binary, "--count", "2", "--timeout", "30", "--tls", "starttls",
		"--tls-cert-out", certFile, "--auth", "app@example.com:s3:cret")
	server.Stderr = os.Stderr
	stdout, err := server.StdoutPipe()
	if err != nil {
		return err
	}
	if err := server.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w", binary, err)
	}
	exited := false
	defer func() {
		if !exited {
			server.Process.Kill()
			server.Wait()
		}
	}()

	lines := bufio.NewReaderSize(stdout, 1<<20)
	next := func() (messageLine, error) {
		var line messageLine
		text, err := lines.ReadString('\n')
		if err != nil {
			return line, fmt.Errorf("no line from smtpcatch: %w", err)
		}
		return line, json.Unmarshal([]byte(text), &line)
	}
	ready, err := next()
	if err != nil {
		return err
	}
	port := strconv.Itoa(ready.Port)

	body := "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\n.\r\n..\r\n.leading\r\nGr\u00fc\u00dfe \u2603\r\n" +
		strings.Repeat("z", 5000) + "\r\n"
	check("plaintext send error", nil, sendPlain(net.JoinHostPort("::1", port), body))
	first, err := next()
	if err != nil {
		return err
	}
	check("plaintext data", body, first.Data)
	check("plaintext rcpt_to", []string{"b@example.com"}, first.RcptTo)
	check("plaintext helo", "go.client.test", first.Helo)
	check("plaintext tls", map[string]string(nil), first.TLS)
	check("plaintext params", map[string]any{"BODY": "8BITMIME", "SMTPUTF8": true}, first.Params)
	check("plaintext warnings", []string{"line_over_998"}, first.Warnings)

	// smtp.SendMail upgrades with STARTTLS when the server offers it. It
	// trusts the generated certificate through SSL_CERT_FILE, which Go reads
	// at the first TLS use, and it sends EHLO localhost.
	os.Setenv("SSL_CERT_FILE", certFile)
	recipients := make([]string, 300)
	for i := range recipients {
		recipients[i] = fmt.Sprintf("r%d@example.com", i)
	}
	auth := smtp.PlainAuth("", "app@example.com", "s3:cret", "localhost")
	err = smtp.SendMail(net.JoinHostPort("localhost", port), auth, "a@example.com", recipients,
		[]byte("Subject: many\r\n\r\nmany\r\n"))
	check("SendMail error", nil, err)
	second, err := next()
	if err != nil {
		return err
	}
	check("SendMail rcpt_to", recipients, second.RcptTo)
	check("SendMail auth", map[string]string{"mechanism": "PLAIN", "username": "app@example.com", "password": "s3:cret"}, second.Auth)
	check("SendMail tls version", "TLSv1.3", second.TLS["version"])
	check("SendMail data", "Subject: many\r\n\r\nmany\r\n", second.Data)

	server.Wait()
	exited = true
	check("exit status", 0, server.ProcessState.ExitCode())
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL %v\n", err)
		os.Exit(1)
	}
	if failures > 0 {
		os.Exit(1)
	}
}
