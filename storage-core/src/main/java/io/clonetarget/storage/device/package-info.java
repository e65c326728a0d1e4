/**
 * Block devices: the one abstraction every layer above stores data through.
 *
 * <p>{@link io.clonetarget.storage.device.BlockDevice} is a byte-addressed device with a logical
 * and a physical block size, positional reads and writes on (direct) buffers, a flush that makes
 * everything written before it durable, discard and write-zeroes.
 * {@link io.clonetarget.storage.device.FileBlockDevice} implements it on a regular file or a block
 * device through {@link io.clonetarget.storage.device.NativeIo} (pread, pwrite, fdatasync,
 * fallocate) without copying data into the Java heap.
 */
package io.clonetarget.storage.device;
