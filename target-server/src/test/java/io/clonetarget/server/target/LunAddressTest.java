package io.clonetarget.server.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LunAddressTest {
    @Test
    void peripheralAndFlatAddressing() {
        assertEquals(0L, LunAddress.encode(0));
        assertEquals(0x0001_0000_0000_0000L, LunAddress.encode(1));
        assertEquals(0x4100_0000_0000_0000L, LunAddress.encode(256));
        assertEquals(0x7fff_0000_0000_0000L, LunAddress.encode(16383));
        for (int lun : new int[]{0, 1, 255, 256, 1000, 16383}) {
            assertEquals(lun, LunAddress.decode(LunAddress.encode(lun)));
        }
        assertEquals(-1, LunAddress.decode(0x0100_0000_0000_0000L), "bus 1 is not ours");
        assertEquals(-1, LunAddress.decode(0x0001_0001_0000_0000L), "second level");
        assertEquals(-1, LunAddress.decode(0x8000_0000_0000_0000L), "logical unit addressing");
        assertThrows(IllegalArgumentException.class, () -> LunAddress.encode(16384));
    }
}
