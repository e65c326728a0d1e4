package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What the builders produce, sent by the outbox, reads back through the reader field by field. */
class PduRoundTripTest {
    private static PduReader encodeAndRead(OutboundPdu pdu, boolean digests) throws Exception {
        OutboxTest.Sink sink = new OutboxTest.Sink();
        Outbox outbox = new Outbox(sink, "rt", new Outbox.CommandWindow() {
            @Override
            public int expCmdSn() {
                return 7;
            }

            @Override
            public int maxCmdSn() {
                return 70;
            }
        }, e -> { });
        outbox.initStatSn(1000);
        outbox.setDigests(digests, digests);
        outbox.start(true);
        CountDownLatch sent = new CountDownLatch(1);
        outbox.send(pdu.then(sent::countDown));
        assertTrue(sent.await(5, TimeUnit.SECONDS));
        outbox.finish(1000);
        PduReader reader = new PduReader(new PduReaderTest.Fragmented(sink.bytes(), 3), 1 << 20);
        reader.setDigests(digests, digests);
        return reader;
    }

    @Test
    void dataInWithStatusAndUnderflow() throws Exception {
        ByteBuffer data = ByteBuffer.wrap(new byte[]{9, 8, 7, 6, 5});
        PduReader reader = encodeAndRead(Pdus.dataIn(0x0001_0000_0000_0000L, 0x11, 3, 4096, data, true, true, 0, -100), true);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        assertTrue(reader.readHeader(bhs));
        assertEquals(Opcode.DATA_IN.code(), Bhs.opcodeCode(bhs));
        assertEquals(0x80 | 0x02 | 0x01, Bhs.flags(bhs), "F, U, S");
        assertEquals(0x0001_0000_0000_0000L, Bhs.lun(bhs));
        assertEquals(0x11, Bhs.itt(bhs));
        assertEquals(Bhs.RESERVED_TAG, bhs.getInt(20));
        assertEquals(1000, bhs.getInt(24), "StatSN with S");
        assertEquals(7, bhs.getInt(28));
        assertEquals(70, bhs.getInt(32));
        assertEquals(3, bhs.getInt(36), "DataSN");
        assertEquals(4096, bhs.getInt(40), "buffer offset");
        assertEquals(100, bhs.getInt(44), "residual");
        assertEquals(data.rewind(), reader.readDataToHeap());
    }

    @Test
    void scsiResponseCarriesSenseLength() throws Exception {
        byte[] sense = {0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0};
        PduReader reader = encodeAndRead(Pdus.scsiResponse(0x22, 2, sense, 4, 512), false);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        reader.readHeader(bhs);
        assertEquals(Opcode.SCSI_RESPONSE.code(), Bhs.opcodeCode(bhs));
        assertEquals(0x80 | 0x04, Bhs.flags(bhs), "F, O");
        assertEquals(2, bhs.get(3), "CHECK CONDITION");
        assertEquals(4, bhs.getInt(36), "ExpDataSN");
        assertEquals(512, bhs.getInt(44));
        ByteBuffer d = reader.readDataToHeap();
        assertEquals(sense.length, d.getShort(0));
        assertEquals(0x24, d.get(2 + 12));
    }

    @Test
    void loginResponseFields() throws Exception {
        byte[] keys = TextSegment.encode(java.util.List.of(new TextSegment.Pair("TargetPortalGroupTag", "1")));
        PduReader reader = encodeAndRead(Pdus.loginResponse(true, 1, 3, 0x123456789ABCL, 77, 5, 0, 0, keys), false);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        reader.readHeader(bhs);
        assertEquals(0x23, Bhs.opcodeCode(bhs));
        assertEquals(0x80 | (1 << 2) | 3, Bhs.flags(bhs));
        assertEquals(0x123456789ABCL, bhs.getLong(8) >>> 16);
        assertEquals(77, bhs.getShort(14));
        assertEquals(5, Bhs.itt(bhs));
        assertEquals(1000, bhs.getInt(24));
        assertEquals(java.util.List.of(new TextSegment.Pair("TargetPortalGroupTag", "1")),
                TextSegment.parse(reader.readDataToHeap()));
    }

    @Test
    void rejectCarriesTheRejectedHeader() throws Exception {
        ByteBuffer bad = ByteBuffer.allocate(48);
        bad.put(0, (byte) 0x1d).putInt(16, 0xabcdef);
        PduReader reader = encodeAndRead(Pdus.reject(RejectReason.COMMAND_NOT_SUPPORTED, bad), true);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        reader.readHeader(bhs);
        assertEquals(0x3f, Bhs.opcodeCode(bhs));
        assertEquals(0x05, bhs.get(2));
        assertEquals(Bhs.RESERVED_TAG, Bhs.itt(bhs));
        ByteBuffer copy = reader.readDataToHeap();
        assertEquals(48, copy.remaining());
        assertEquals(0xabcdef, copy.getInt(16));
    }
}
