// Test smtpcatch with Jakarta Mail 2.0, the mail API of Jakarta EE and Spring. It sends a
// multipart message with a UTF-8 subject, a Bcc with a UTF-8 address and a 5 MiB attachment over
// STARTTLS, which smtpcatch requires, and authenticates after it. The test checks the TLS session,
// the credentials, SMTPUTF8 and that the data is what MimeMessage.writeTo() produces.
//
// Run with JDK 11 or later, in single-file source mode:
//   SMTPCATCH_BIN=build/release/smtpcatch \
//   java -cp /usr/share/java/jakarta-mail.jar:/usr/share/java/jakarta-activation.jar JakartaMailTest.java
// Debian's libjakarta-mail-java and libjakarta-activation-java install both jars there.
import jakarta.activation.DataHandler;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.Properties;
import java.util.Random;

public class JakartaMailTest {
    static int failures = 0;

    static void check(String label, Object expected, Object actual) {
        if (Objects.deepEquals(expected, actual)) return;
        failures++;
        String e = String.valueOf(expected), a = String.valueOf(actual);
        System.err.println("FAIL " + label + ": expected " + e.substring(0, Math.min(300, e.length()))
                + ", got " + a.substring(0, Math.min(300, a.length())));
    }

    /**
     * Returns the raw JSON text of a member: a string literal with its quotes, or an array or
     * object up to its closing bracket. Inside a JSON string every quote is escaped, so the
     * first unescaped "name": is the member itself. Arrays and objects must not contain brackets in strings.
     */
    static String member(String json, String name) {
        int start = json.indexOf("\"" + name + "\":");
        if (start < 0) return null;
        start += name.length() + 3;
        int i = start;
        if (json.charAt(i) == '"') {
            for (i++; json.charAt(i) != '"'; i++) if (json.charAt(i) == '\\') i++;
            return json.substring(start, i + 1);
        }
        int depth = 0;
        for (; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '[' || c == '{') depth++;
            else if (c == ']' || c == '}') { if (depth == 0) break; if (--depth == 0) { i++; break; } }
            else if (c == ',' && depth == 0) break;
        }
        return json.substring(start, i);
    }

    /** Decodes a JSON string literal (with its quotes). */
    static String unquote(String literal) {
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < literal.length() - 1; i++) {
            char c = literal.charAt(i);
            if (c != '\\') { out.append(c); continue; }
            char e = literal.charAt(++i);
            switch (e) {
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u': out.append((char) Integer.parseInt(literal.substring(i + 1, i + 5), 16)); i += 4; break;
                default: out.append(e);
            }
        }
        return out.toString();
    }

    public static void main(String[] args) throws Exception {
        String binary = Objects.requireNonNullElse(System.getenv("SMTPCATCH_BIN"), "smtpcatch");
        Process server = new ProcessBuilder(binary, "--count", "1", "--timeout", "30", "--tls", "starttls",
                "--require-tls", "--auth-tls-only", "--auth", "app@example.com:s3cret")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            sendAndCheck(server);
        } finally {
            server.destroyForcibly();  // Does nothing when smtpcatch has exited by itself.
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    static void sendAndCheck(Process server) throws Exception {
        BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        String port = member(lines.readLine(), "port");

        Properties props = new Properties();
        props.put("mail.smtp.host", "127.0.0.1");
        props.put("mail.smtp.port", port);
        props.put("mail.smtp.localhost", "java.client.test");  // no lookup of the local host name
        props.put("mail.smtp.starttls.enable", "true");
        props.put("mail.smtp.starttls.required", "true");
        props.put("mail.smtp.ssl.trust", "127.0.0.1");  // trust any certificate from 127.0.0.1, such as the generated one
        props.put("mail.smtp.auth", "true");
        props.put("mail.mime.allowutf8", "true");
        props.put("mail.smtp.timeout", "20000");
        Session session = Session.getInstance(props);

        byte[] attachment = new byte[5 * 1024 * 1024];
        new Random(1).nextBytes(attachment);
        MimeMessage message = new MimeMessage(session);
        message.setFrom(new InternetAddress("app@example.com", "J\u00f6rg"));
        message.setRecipients(Message.RecipientType.TO, "b@example.com");
        message.setRecipients(Message.RecipientType.BCC, "\u6e21\u8fba@\u4f8b\u3048.jp");
        message.setSubject("Gr\u00fc\u00dfe \u2603", "UTF-8");
        MimeMultipart multipart = new MimeMultipart();
        MimeBodyPart text = new MimeBodyPart();
        text.setText("Hallo J\u00f6rg \u2713\n.\n..\nend\n", "UTF-8");
        multipart.addBodyPart(text);
        MimeBodyPart file = new MimeBodyPart();
        file.setDataHandler(new DataHandler(new ByteArrayDataSource(attachment, "application/octet-stream")));
        file.setFileName("data.bin");
        multipart.addBodyPart(file);
        message.setContent(multipart);
        Transport.send(message, "app@example.com", "s3cret");

        String line = lines.readLine();
        check("tls", true, member(line, "tls").contains("\"version\":\"TLSv1.3\""));
        String auth = member(line, "auth");
        check("auth mechanism", "\"LOGIN\"", member(auth, "mechanism"));  // Jakarta Mail tries LOGIN first
        check("auth username", "\"app@example.com\"", member(auth, "username"));
        check("auth password", "\"s3cret\"", member(auth, "password"));
        check("mail_params", "{\"SMTPUTF8\":true}", member(line, "mail_params"));
        check("rcpt_to", "[\"b@example.com\",\"\u6e21\u8fba@\u4f8b\u3048.jp\"]", member(line, "rcpt_to"));

        // Jakarta Mail strips Bcc and sends what writeTo() produces, with CRLF line endings.
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        message.writeTo(expected, new String[] {"Bcc"});
        String data = unquote(member(line, "data"));
        check("data", expected.toString(StandardCharsets.UTF_8).replaceAll("\r?\n", "\r\n"), data);
        MimeMessage received = new MimeMessage(session, new ByteArrayInputStream(data.getBytes(StandardCharsets.UTF_8)));
        MimeMultipart parts = (MimeMultipart) received.getContent();
        check("subject", "Gr\u00fc\u00dfe \u2603", received.getSubject());
        check("attachment", true, Arrays.equals(attachment, parts.getBodyPart(1).getInputStream().readAllBytes()));

        check("no more lines", null, lines.readLine());
        check("exit status", 0, server.waitFor());
    }
}
