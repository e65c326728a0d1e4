package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The two Asynchronous Messages byte by byte as the outbox sends them (RFC 7143 section 11.9):
 * opcode 32h with F, ITT ffffffffh, StatSN consumed in order with the responses around them,
 * ExpCmdSN and MaxCmdSN from the window, AsyncEvent and Parameter3, and the SenseLength prefix.
 */
class AsyncMessagePdusTest {
    /** REPORTED LUNS DATA HAS CHANGED, fixed format, as SenseData.fixed() makes it. */
    static final byte[] LUNS_CHANGED = {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3f, 0x0e, 0, 0, 0, 0};

    /** Sends the PDUs through an outbox whose next StatSN is 1000 and returns the bytes written. */
    private static ByteBuffer wire(OutboundPdu... pdus) throws Exception {
        OutboxTest.Sink sink = new OutboxTest.Sink();
        Outbox outbox = new Outbox(sink, "async", new Outbox.CommandWindow() {
            @Override
            public int expCmdSn() {
                return 0x1234_5678;
            }

            @Override
            public int maxCmdSn() {
                return 0x1234_5777;
            }
        }, e -> { });
        outbox.initStatSn(1000);
        outbox.start(true);
        CountDownLatch sent = new CountDownLatch(pdus.length);
        for (OutboundPdu p : pdus) {
            outbox.send(p.then(sent::countDown));
        }
        assertTrue(sent.await(5, TimeUnit.SECONDS));
        outbox.finish(1000);
        return ByteBuffer.wrap(sink.bytes());
    }

    /** The header the RFC gives for a message with these fields (StatSN and the window as sent above). */
    private static byte[] expectedHeader(int dataSegmentLength, long lun, int statSn, int event, int parameter3) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) 0x32);            // opcode, I bit 0
        h.put(1, (byte) 0x80);            // F, the rest reserved
        h.put(4, (byte) 0);               // TotalAHSLength
        h.put(5, (byte) (dataSegmentLength >>> 16)).put(6, (byte) (dataSegmentLength >>> 8))
                .put(7, (byte) dataSegmentLength);
        h.putLong(8, lun);                // LUN (reserved unless AsyncEvent is 0)
        h.putInt(16, 0xffffffff);         // ITT
        h.putInt(20, 0);                  // reserved
        h.putInt(24, statSn);
        h.putInt(28, 0x1234_5678);        // ExpCmdSN
        h.putInt(32, 0x1234_5777);        // MaxCmdSN
        h.put(36, (byte) event);          // AsyncEvent
        h.put(37, (byte) 0);              // AsyncVCode
        h.putShort(38, (short) 0);        // Parameter1
        h.putShort(40, (short) 0);        // Parameter2
        h.putShort(42, (short) parameter3);
        h.putInt(44, 0);                  // reserved
        return h.array();
    }

    private static byte[] bytes(ByteBuffer wire, int offset, int length) {
        return Arrays.copyOfRange(wire.array(), offset, offset + length);
    }

    @Test
    void scsiEventCarriesLunSenseLengthAndSenseAndConsumesAStatSn() throws Exception {
        long lun = 0x0005_0000_0000_0000L; // LUN 5, peripheral device addressing
        ByteBuffer wire = wire(Pdus.scsiResponse(7, 0, null, 0, 0), Pdus.asyncScsiEvent(lun, LUNS_CHANGED),
                Pdus.scsiResponse(8, 0, null, 0, 0));
        assertEquals(48 + 48 + 20 + 48, wire.remaining(), "2 + 18 bytes of data: no padding");
        assertEquals(1000, wire.getInt(24), "the response before");
        assertArrayEquals(expectedHeader(20, lun, 1001, 0, 0), bytes(wire, 48, 48));
        assertArrayEquals(new byte[]{0, 18}, bytes(wire, 96, 2), "SenseLength");
        assertArrayEquals(LUNS_CHANGED, bytes(wire, 98, 18), "the sense data after it");
        assertEquals(1002, wire.getInt(116 + 24), "the response after: the event consumed 1001");
    }

    @Test
    void scsiEventDataIsPaddedToFourBytes() throws Exception {
        byte[] sense = Arrays.copyOf(LUNS_CHANGED, 19);
        ByteBuffer wire = wire(Pdus.asyncScsiEvent(0, sense));
        assertEquals(48 + 21 + 3, wire.remaining());
        assertEquals(21, Bhs.dataSegmentLength(wire), "DataSegmentLength counts SenseLength and sense, not padding");
        assertArrayEquals(new byte[]{0, 19}, bytes(wire, 48, 2));
        assertArrayEquals(new byte[3], bytes(wire, 69, 3), "zero padding");
    }

    @Test
    void logoutRequestCarriesParameter3AndNoDataAndConsumesAStatSn() throws Exception {
        ByteBuffer wire = wire(Pdus.nopInPing(0x7f00_0000), Pdus.asyncRequestLogout(30),
                Pdus.scsiResponse(9, 0, null, 0, 0), Pdus.asyncRequestLogout(0xffff));
        assertEquals(4 * 48, wire.remaining(), "no data segments");
        assertEquals(1000, wire.getInt(24), "a ping carries StatSN without consuming it");
        assertArrayEquals(expectedHeader(0, 0, 1000, 1, 30), bytes(wire, 48, 48));
        assertEquals(1001, wire.getInt(96 + 24), "the response after it");
        assertArrayEquals(expectedHeader(0, 0, 1002, 1, 0xffff), bytes(wire, 144, 48), "65535 s fits unsigned");
    }

    @Test
    void valuesTheFieldsCannotHoldAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Pdus.asyncRequestLogout(0x1_0000));
        assertThrows(IllegalArgumentException.class, () -> Pdus.asyncRequestLogout(-1));
        assertThrows(IllegalArgumentException.class, () -> Pdus.asyncScsiEvent(0, new byte[0x1_0000]));
    }
}
