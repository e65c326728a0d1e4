package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.MediumErrorException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An HTTP(S) URL as a clone source, read with Range requests.
 *
 * <p>Opening asks for the first byte: the answer must be {@code 206} with a Content-Range that
 * gives the size (a server that ignores Range is refused). The ETag and Last-Modified are
 * recorded; every later request carries {@code If-Match} (or {@code If-Unmodified-Since}), so a
 * file replaced on the server answers {@code 412} and is reported as a changed source, never
 * mixed into the clone. Network failures are medium errors: hydration retries them with backoff.
 */
public final class HttpSource implements CloneSource {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+)");
    private final URI uri;
    private final HttpClient client;
    private final long size;
    private final String etag;
    private final String lastModified;
    private final Duration timeout;

    private HttpSource(URI uri, HttpClient client, long size, String etag, String lastModified, Duration timeout) {
        this.uri = uri;
        this.client = client;
        this.size = size;
        this.etag = etag;
        this.lastModified = lastModified;
        this.timeout = timeout;
    }

    /**
     * Probes the URL.
     *
     * @throws IOException naming the URL and what is wrong (unreachable, no Range support, ...)
     */
    public static HttpSource open(URI uri) throws IOException {
        return open(uri, Duration.ofSeconds(30));
    }

    public static HttpSource open(URI uri, Duration timeout) throws IOException {
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
            throw new IOException("not an http(s) URL: " + uri);
        }
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
        HttpRequest probe = HttpRequest.newBuilder(uri).timeout(timeout).header("Range", "bytes=0-0").GET().build();
        HttpResponse<byte[]> r;
        try {
            r = client.send(probe, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new IOException("cannot reach clone source " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while probing " + uri, e);
        }
        if (r.statusCode() == 200) {
            throw new IOException("clone source " + uri + " ignores Range requests (answered 200 to bytes=0-0);"
                    + " a clone needs a server that serves byte ranges");
        }
        if (r.statusCode() != 206) {
            throw new IOException("clone source " + uri + " answered HTTP " + r.statusCode());
        }
        long total = contentRange(r).map(m -> Long.parseLong(m.group(3)))
                .orElseThrow(() -> new IOException("clone source " + uri + " sent no usable Content-Range"));
        String etag = r.headers().firstValue("ETag").orElse(null);
        String lastModified = r.headers().firstValue("Last-Modified").orElse(null);
        if (etag != null && etag.startsWith("W/")) {
            etag = null;
        }
        return new HttpSource(uri, client, total, etag, lastModified, timeout);
    }

    private static Optional<Matcher> contentRange(HttpResponse<?> r) {
        return r.headers().firstValue("Content-Range").map(CONTENT_RANGE::matcher).filter(Matcher::matches);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (length == 0) {
            return;
        }
        long last = offset + length - 1;
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout)
                .header("Range", "bytes=" + offset + "-" + last).GET();
        if (etag != null) {
            b.header("If-Match", etag);
        } else if (lastModified != null) {
            b.header("If-Unmodified-Since", lastModified);
        }
        HttpResponse<byte[]> r;
        try {
            r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new MediumErrorException("reading " + uri + " bytes " + offset + "-" + last + ": " + e, false, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MediumErrorException("interrupted reading " + uri, false, e);
        }
        switch (r.statusCode()) {
            case 206 -> { }
            case 412, 416 -> throw new SourceChangedException("clone source " + uri + " changed on the server (HTTP "
                    + r.statusCode() + " to a request for the recorded version)");
            case 200 -> throw new MediumErrorException("clone source " + uri + " stopped honouring Range requests", false);
            default -> throw new MediumErrorException("clone source " + uri + " answered HTTP " + r.statusCode()
                    + " for bytes " + offset + "-" + last, false);
        }
        Matcher m = contentRange(r).orElseThrow(() -> new MediumErrorException(
                "clone source " + uri + " sent no Content-Range with a 206", false));
        if (Long.parseLong(m.group(1)) != offset || Long.parseLong(m.group(2)) != last
                || Long.parseLong(m.group(3)) != size) {
            throw new SourceChangedException("clone source " + uri + " answered " + m.group() + " to bytes " + offset
                    + "-" + last + "/" + size);
        }
        String served = r.headers().firstValue("ETag").orElse(null);
        if (etag != null && served != null && !etag.equals(served)) {
            throw new SourceChangedException("clone source " + uri + " has ETag " + served + ", the clone was made from "
                    + etag);
        }
        if (r.body().length != length) {
            throw new MediumErrorException("clone source " + uri + " sent " + r.body().length + " bytes for a range of "
                    + length, false);
        }
        dst.put(r.body());
    }

    @Override
    public String descriptor() {
        Map<String, String> id = new LinkedHashMap<>();
        id.put("kind", "http");
        id.put("location", uri.toString());
        id.put("size", Long.toString(size));
        id.put("etag", etag);
        id.put("last-modified", lastModified);
        return CloneSource.formatDescriptor(id);
    }

    @Override
    public void checkSame(String recorded) throws IOException {
        Map<String, String> then = CloneSource.parseDescriptor(recorded);
        if (!Objects.equals(then.get("size"), Long.toString(size))) {
            throw new SourceChangedException("clone source " + uri + " is " + size + " bytes; the clone was made from "
                    + then.get("size"));
        }
        if (then.containsKey("etag") && !Objects.equals(then.get("etag"), etag)) {
            throw new SourceChangedException("clone source " + uri + " has ETag " + etag + "; the clone was made from "
                    + then.get("etag"));
        }
        if (!then.containsKey("etag") && then.containsKey("last-modified")
                && !Objects.equals(then.get("last-modified"), lastModified)) {
            throw new SourceChangedException("clone source " + uri + " was modified " + lastModified
                    + "; the clone was made from the version of " + then.get("last-modified"));
        }
    }

    @Override
    public String describe() {
        return "http " + uri;
    }

    @Override
    public void close() {
        client.close();
    }
}
