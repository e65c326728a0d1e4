package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;
import java.util.HexFormat;

/** A {@link ScsiTask} for tests: a CDB, optional data-out, and a data-in buffer it keeps. */
final class FakeTask implements ScsiTask {
    static final Nexus NEXUS = Nexus.of("iqn.1993-08.org.debian:01:a", 0x1234, "iqn.2026-11.io.clonetarget:t", 1);
    static final Nexus OTHER = Nexus.of("iqn.1993-08.org.debian:01:b", 0x5678, "iqn.2026-11.io.clonetarget:t", 1);

    private final ByteBuffer cdb;
    private final ByteBuffer dataOut;
    private final int dataInLimit;
    private final Nexus nexus;
    ByteBuffer dataIn;
    /** What {@link #peers()} answers (the units of the nexus's LUN view). */
    java.util.Collection<LogicalUnit> peers = java.util.List.of();
    /** What {@link #aborted()} answers. */
    volatile boolean aborted;

    FakeTask(Nexus nexus, ByteBuffer cdb, ByteBuffer dataOut, int dataInLimit) {
        this.nexus = nexus;
        this.cdb = cdb;
        this.dataOut = dataOut == null ? ByteBuffer.allocate(0) : dataOut;
        this.dataInLimit = dataInLimit;
    }

    /** A task from a hex CDB ("28 00 00 00 00 00 00 00 01 00"). */
    static FakeTask of(String hexCdb) {
        return of(NEXUS, hexCdb, null);
    }

    static FakeTask of(Nexus nexus, String hexCdb, ByteBuffer dataOut) {
        byte[] b = HexFormat.of().parseHex(hexCdb.replace(" ", ""));
        ByteBuffer cdb = ByteBuffer.allocate(Math.max(16, b.length));
        cdb.put(b).clear().limit(Math.max(16, b.length));
        return new FakeTask(nexus, cdb, dataOut, 1 << 24);
    }

    FakeTask withPeers(LogicalUnit... units) {
        peers = java.util.List.of(units);
        return this;
    }

    @Override
    public java.util.Collection<LogicalUnit> peers() {
        return peers;
    }

    @Override
    public Nexus nexus() {
        return nexus;
    }

    @Override
    public ByteBuffer cdb() {
        return cdb.asReadOnlyBuffer();
    }

    @Override
    public ByteBuffer dataOut() {
        return dataOut.duplicate();
    }

    @Override
    public int dataInLimit() {
        return dataInLimit;
    }

    @Override
    public ByteBuffer allocateDataIn(int length) {
        dataIn = ByteBuffer.allocateDirect(length);
        return dataIn;
    }

    @Override
    public boolean aborted() {
        return aborted;
    }
}
