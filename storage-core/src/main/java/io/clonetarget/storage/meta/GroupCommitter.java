package io.clonetarget.storage.meta;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Runs commits for concurrent callers, one at a time, and lets callers share them: a caller
 * waits for a commit that begins after it called (so everything it did before calling is in
 * it), and every caller that arrives while a commit runs shares the next one. Under load that is
 * one commit per round of flushes, not one per flush.
 *
 * <p>The caller that finds no commit running runs the commits itself, on its own thread, until
 * no one is waiting. A failed commit fails exactly the callers that waited for it. Thread-safe.
 */
public final class GroupCommitter {
    /** One commit. */
    @FunctionalInterface
    public interface Commit {
        void run() throws IOException;
    }

    private final Commit commit;
    private final Object lock = new Object();
    private CompletableFuture<Void> next;
    private boolean running;
    private long commits;

    public GroupCommitter(Commit commit) {
        this.commit = commit;
    }

    /** Returns once a commit that began after this call has completed; rethrows its failure. */
    public void commit() throws IOException {
        CompletableFuture<Void> mine;
        boolean lead;
        synchronized (lock) {
            if (next == null) {
                next = new CompletableFuture<>();
            }
            mine = next;
            lead = !running;
            running = true;
        }
        if (lead) {
            runAll();
        }
        try {
            mine.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** Commits run so far. */
    public long commits() {
        synchronized (lock) {
            return commits;
        }
    }

    private void runAll() {
        while (true) {
            CompletableFuture<Void> f;
            synchronized (lock) {
                f = next;
                next = null;
                if (f == null) {
                    running = false;
                    return;
                }
                commits++;
            }
            try {
                commit.run();
                f.complete(null);
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            } catch (Error e) {
                f.completeExceptionally(e);
                synchronized (lock) {
                    running = false;
                    if (next != null) {
                        next.completeExceptionally(e);
                        next = null;
                    }
                }
                throw e;
            }
        }
    }
}
