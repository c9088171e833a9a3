/*
 * A real JVM in the part of WSO2 API-M's, for carbon-launcher's end-to-end tests
 * (tests/e2e/test_health_fixtures.py; laid out by scripts/make-java-home.sh). It does, on a real
 * HotSpot, what a supervisor observes and probes of an API-M JVM (tools/SIMULATION.md):
 *
 *   - -Dk=v arguments after the main class become system properties, as Carbon's Main makes
 *     them [F4]: carbon.home (the home) and portOffset (the offset, as for API-M [F6]);
 *   - CARBON_HOME/wso2carbon.pid holds its pid, NUL-padded, written before any port opens [F10];
 *   - GET /services/Version on the HTTP servlet port 9763+offset answers 200 [F16]; the HTTPS
 *     servlet port 9443+offset accepts TCP connections (the charts' startup probe) and closes them;
 *   - it prints API-M's ready line, "WSO2 Carbon started in N sec" [F13];
 *   - a shutdown hook prints a line: SIGTERM runs it and the JVM exits 143;
 *   - GET /deadlock starts two threads that take two monitors in opposite orders; one of them is
 *     the monitor every /services/Version request takes, so from then on the HTTP server's one
 *     thread blocks on the first probe and nothing on that port is answered again, while SIGQUIT
 *     still prints a thread dump with HotSpot's "Found one Java-level deadlock" report.
 *
 * JDK 17, no dependencies: com.sun.net.httpserver serves HTTP. Written for this project.
 */

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.CountDownLatch;

public final class HealthServer {
    private static final int HTTPS_SERVLET_PORT = 9443;
    private static final int HTTP_SERVLET_PORT = 9763;
    private static final int PID_FILE_LENGTH = 20;

    /** Every /services/Version request takes it; the deadlock holds it forever. */
    private static final Object VERSION_LOCK = new Object();
    private static final Object DEPLOYER_LOCK = new Object();

    private HealthServer() {}

    public static void main(String[] args) throws Exception {
        final long startedNanos = System.nanoTime();
        applySystemProperties(args);
        final Path home = Path.of(System.getProperty("carbon.home", "."));
        final int offset = Integer.parseInt(System.getProperty("portOffset", "0"));
        log("HealthServer pid " + ProcessHandle.current().pid() + " offset " + offset + " home "
                + home);
        writePidFile(home.resolve("wso2carbon.pid"));
        Runtime.getRuntime().addShutdownHook(
                new Thread(() -> log("Shutdown hook triggered: stopping"), "shutdown-hook"));
        final InetAddress loopback = InetAddress.getLoopbackAddress();
        startHttpServlet(new InetSocketAddress(loopback, HTTP_SERVLET_PORT + offset), home);
        startTcpAcceptor(new ServerSocket(HTTPS_SERVLET_PORT + offset, 64, loopback));
        final long seconds = Math.round((System.nanoTime() - startedNanos) / 1e9);
        log("WSO2 Carbon started in " + seconds + " sec");
    }

    /** Carbon's Main sets every -Dk=v argument it receives as a system property [F4]. */
    private static void applySystemProperties(String[] args) {
        for (final String arg : args) {
            if (!arg.startsWith("-D")) {
                continue;
            }
            final int equals = arg.indexOf('=');
            if (equals < 0) {
                System.setProperty(arg.substring(2), "true");
            } else {
                System.setProperty(arg.substring(2, equals), arg.substring(equals + 1));
            }
        }
    }

    private static void writePidFile(Path file) throws IOException {
        final byte[] pid = Long.toString(ProcessHandle.current().pid())
                .getBytes(StandardCharsets.US_ASCII);
        final byte[] padded = new byte[Math.max(PID_FILE_LENGTH, pid.length)];
        System.arraycopy(pid, 0, padded, 0, pid.length);  // the rest stays NUL, as API-M's
        Files.write(file, padded);
    }

    /**
     * No executor: the server's own dispatcher thread runs every handler, so one blocked
     * request blocks the port, as a JVM whose request threads are all stuck.
     */
    private static void startHttpServlet(InetSocketAddress address, Path home) throws IOException {
        final HttpServer server = HttpServer.create(address, 64);
        final String version = packVersion(home);
        server.createContext("/services/Version", exchange -> {
            synchronized (VERSION_LOCK) {
                respond(exchange, 200, "<ns:getVersionResponse xmlns:ns="
                        + "\"http://version.services.core.carbon.wso2.org\"><return>" + version
                        + "</return></ns:getVersionResponse>");
            }
        });
        server.createContext("/deadlock", exchange -> {
            deadlock();
            respond(exchange, 200, "deadlocked\n");
        });
        server.start();
    }

    /** What /services/Version reports: HOME/bin/version.txt's first line, if the home has one. */
    private static String packVersion(Path home) {
        try {
            final String line = Files.readAllLines(home.resolve("bin/version.txt")).get(0).strip();
            return line.isEmpty() ? "WSO2 API Manager" : line;
        } catch (IOException | IndexOutOfBoundsException e) {
            return "WSO2 API Manager";
        }
    }

    private static void startTcpAcceptor(ServerSocket server) {
        final Thread acceptor = new Thread(() -> {
            while (true) {
                try (Socket connection = server.accept()) {
                    // accepted and closed: a TCP probe's connect is all it answers
                } catch (IOException e) {
                    return;
                }
            }
        }, "https-servlet-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Two threads, two monitors, opposite orders; returns once both are blocked for good. */
    private static void deadlock() {
        final CountDownLatch bothHoldOne = new CountDownLatch(2);
        final Thread first = new Thread(
                () -> lockBoth(VERSION_LOCK, DEPLOYER_LOCK, bothHoldOne), "deployer-1");
        final Thread second = new Thread(
                () -> lockBoth(DEPLOYER_LOCK, VERSION_LOCK, bothHoldOne), "deployer-2");
        first.start();
        second.start();
        for (int i = 0; i < 500 && !(blocked(first) && blocked(second)); i++) {
            pause(10);
        }
    }

    private static void lockBoth(Object held, Object wanted, CountDownLatch bothHoldOne) {
        synchronized (held) {
            bothHoldOne.countDown();
            try {
                bothHoldOne.await();
            } catch (InterruptedException e) {
                return;
            }
            synchronized (wanted) {
                log("unreachable: " + Thread.currentThread().getName() + " got both locks");
            }
        }
    }

    private static boolean blocked(Thread thread) {
        return thread.getState() == Thread.State.BLOCKED;
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        final byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/xml");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** A line shaped like Carbon's log lines, flushed: stdout is a pipe to the supervisor. */
    private static void log(String message) {
        final String time = LocalDateTime.now()
                .format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS"));
        System.out.println("[" + time + "]  INFO {HealthServer} - " + message);
        System.out.flush();
    }
}
