package io.clonetarget.storage.device;

/** Range checks shared by the device implementations. */
public final class Ranges {
    private Ranges() {
    }

    /**
     * Checks that {@code [offset, offset + length)} lies inside the device.
     *
     * @throws IndexOutOfBoundsException naming the range and the size
     */
    public static void check(BlockDevice device, long offset, long length) {
        check(device.size(), offset, length);
    }

    /** Same as {@link #check(BlockDevice, long, long)} for an explicit size. */
    public static void check(long size, long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IndexOutOfBoundsException(
                    "range " + offset + "+" + length + " outside device of " + size + " bytes");
        }
    }
}
