package io.clonetarget.server.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds stack traces in what the server logs: either by teeing this JVM's {@code System.out} and
 * {@code System.err} (a server in-process; both logging backends look the stream up per line), or
 * by following a server's log file. A stack trace for wire input is a defect: malformed PDUs get a
 * Reject or a closed connection with one log line, never an exception that escaped.
 */
public final class LogWatch implements AutoCloseable {
    /** One stack trace: the lines before it, the exception line and its frames. */
    public record Trace(String text, String exception, String topFrame) {
        /** What identifies the defect: the exception type and where it was thrown. */
        public String signature() {
            int colon = exception.indexOf(':');
            String type = (colon > 0 ? exception.substring(0, colon) : exception).trim();
            return type + " " + topFrame.replaceFirst("^at ", "at ");
        }
    }

    private final List<Trace> traces = new ArrayList<>();
    private final List<String> recent = new ArrayList<>();
    private final StringBuilder line = new StringBuilder();
    private List<String> current;
    private String exception;
    private String topFrame;
    private PrintStream savedOut;
    private PrintStream savedErr;
    private Thread follower;
    private volatile boolean closed;

    private LogWatch() {
    }

    /** Watches this JVM's standard streams (call before the server starts logging). */
    public static LogWatch ofStandardStreams() {
        LogWatch w = new LogWatch();
        w.savedOut = System.out;
        w.savedErr = System.err;
        System.setOut(new PrintStream(w.tee(w.savedOut), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(w.tee(w.savedErr), true, StandardCharsets.UTF_8));
        return w;
    }

    /** Follows a log file from its current end. */
    public static LogWatch ofFile(Path file) throws IOException {
        LogWatch w = new LogWatch();
        RandomAccessFile f = new RandomAccessFile(file.toFile(), "r");
        f.seek(f.length());
        w.follower = Thread.ofPlatform().daemon().name("fuzz-logwatch").start(() -> {
            byte[] buf = new byte[65536];
            try (f) {
                while (!w.closed) {
                    int n = f.read(buf);
                    if (n > 0) {
                        w.feed(buf, 0, n);
                    } else {
                        Thread.sleep(100);
                    }
                }
            } catch (IOException | InterruptedException e) {
                // stop following
            }
        });
        return w;
    }

    private OutputStream tee(PrintStream target) {
        return new OutputStream() {
            @Override
            public void write(int b) {
                target.write(b);
                feed(new byte[]{(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                target.write(b, off, len);
                feed(b, off, len);
            }

            @Override
            public void flush() {
                target.flush();
            }
        };
    }

    private synchronized void feed(byte[] b, int off, int len) {
        ByteArrayOutputStream chunk = new ByteArrayOutputStream(len);
        chunk.write(b, off, len);
        for (char c : chunk.toString(StandardCharsets.UTF_8).toCharArray()) {
            if (c == '\n') {
                line(line.toString());
                line.setLength(0);
            } else if (line.length() < 4000) {
                line.append(c);
            }
        }
    }

    private void line(String l) {
        boolean frame = l.startsWith("\tat ") || l.startsWith("    at ") || l.startsWith("\t... ")
                || l.startsWith("Caused by: ") || l.startsWith("\tSuppressed: ");
        if (frame && current == null) {
            current = new ArrayList<>(recent);
            exception = recent.isEmpty() ? "?" : recent.getLast();
            topFrame = l.trim();
        }
        if (current != null && frame) {
            if (current.size() < 60) {
                current.add(l);
            }
            if (!topFrame.contains("io.clonetarget") && l.contains("io.clonetarget")) {
                topFrame = l.trim(); // where our code is, not the JDK frame that threw
            }
            return;
        }
        endTrace();
        if (l.startsWith("Exception in thread ")) {
            current = new ArrayList<>(List.of(l));
            exception = l;
            topFrame = "?";
            return;
        }
        recent.add(l);
        if (recent.size() > 2) {
            recent.removeFirst();
        }
    }

    private void endTrace() {
        if (current != null) {
            traces.add(new Trace(String.join("\n", current), exception, topFrame));
            current = null;
        }
    }

    /** Traces seen since the last call (and the one in progress, if its frames have stopped). */
    public synchronized List<Trace> drain() {
        if (current != null && line.isEmpty()) {
            endTrace();
        }
        List<Trace> out = new ArrayList<>(traces);
        traces.clear();
        return out;
    }

    @Override
    public void close() {
        closed = true;
        if (savedOut != null) {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }
}
