package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A local file or block device as a clone source, opened read-only (with a shared lock, so no
 * clonetarget can open it for writing meanwhile). Its identity is the size and, for regular
 * files, the modification time and inode.
 */
public final class FileSource implements CloneSource {
    private final Path path;
    private final FileBlockDevice device;
    private final Map<String, String> identity;

    private FileSource(Path path, FileBlockDevice device, Map<String, String> identity) {
        this.path = path;
        this.device = device;
        this.identity = identity;
    }

    public static FileSource open(Path path) throws IOException {
        Path real = path.toRealPath();
        FileBlockDevice device = FileBlockDevice.open(real, true, 512);
        device.adviseSequential(); // hydration reads it front to back, as cp would
        Map<String, String> id = new LinkedHashMap<>();
        boolean regular = Files.isRegularFile(real);
        id.put("kind", regular ? "file" : "blockdev");
        id.put("location", real.toString());
        id.put("size", Long.toString(device.size()));
        if (regular) {
            FileTime mtime = Files.getLastModifiedTime(real);
            id.put("mtime", Long.toString(mtime.toInstant().getEpochSecond() * 1_000_000_000L + mtime.toInstant().getNano()));
            id.put("inode", String.valueOf(Files.getAttribute(real, "unix:ino")));
        }
        return new FileSource(real, device, id);
    }

    @Override
    public long size() {
        return device.size();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        device.read(offset, dst);
    }

    @Override
    public boolean copyTo(io.clonetarget.storage.device.BlockDevice dest, long offset, long length) throws IOException {
        return dest.copyFrom(device, offset, offset, length);
    }

    @Override
    public String descriptor() {
        return CloneSource.formatDescriptor(identity);
    }

    @Override
    public void checkSame(String recorded) throws IOException {
        Map<String, String> then = CloneSource.parseDescriptor(recorded);
        for (String key : new String[]{"size", "mtime", "inode"}) {
            if (then.containsKey(key) && !Objects.equals(then.get(key), identity.get(key))) {
                throw new SourceChangedException("source " + path + " changed since the clone was created: " + key
                        + " was " + then.get(key) + ", is " + identity.get(key));
            }
        }
    }

    @Override
    public String describe() {
        return ("blockdev".equals(identity.get("kind")) ? "block device " : "file ") + path;
    }

    @Override
    public void close() throws IOException {
        device.close();
    }
}
