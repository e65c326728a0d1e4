package io.clonetarget.storage.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waiting in tests for a condition (never for a fixed time), with a deadline that fails loudly. */
public final class Await {
    private Await() {
    }

    /** Returns as soon as {@code condition} holds; fails with {@code what} after {@code timeout}. */
    public static void until(Duration timeout, Supplier<String> what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + timeout + ": " + what.get());
            }
            Thread.onSpinWait();
            try {
                Thread.sleep(2); // polling interval, not a condition stand-in: the loop checks the condition
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what.get());
            }
        }
    }
}
