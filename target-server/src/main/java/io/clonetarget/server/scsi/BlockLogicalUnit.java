package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.NoSpaceException;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A direct-access block device logical unit (SBC-4) over a {@link BlockDevice}.
 *
 * <p>Order of checks for every command: a pending unit attention (except for INQUIRY, REPORT
 * LUNS and REQUEST SENSE), the opcode, the NACA bit of the control byte, reservations, then the
 * command's own fields. All failures are turned into sense data here, in one place.
 */
public final class BlockLogicalUnit implements LogicalUnit {
    private static final Logger LOG = LoggerFactory.getLogger(BlockLogicalUnit.class);

    private final BlockDevice device;
    private final LunIdentity identity;
    private final boolean readOnly;
    private final ModePages modes = new ModePages();
    private final UnitAttentions attentions = new UnitAttentions();
    private final Reservations reservations;
    private final BlockCommands io;
    private final ProvisioningCommands provisioning;
    private final CopyCommands copies = new CopyCommands(this);
    private final OdxCommands odx = new OdxCommands(this, RodTokens.SERVER, System::nanoTime);
    private final BufferSource buffers;
    private final SpaceWatch spaceWatch;
    private final AtomicWrites atomics;
    private final SanitizeCommands sanitize;
    private final String name;

    /**
     * @param name for log lines ("iqn...:disk lun 0")
     * @param readOnly expose the unit write-protected even if the device is writable
     */
    public BlockLogicalUnit(String name, BlockDevice device, LunIdentity identity, boolean readOnly, BufferSource buffers) {
        this(name, device, identity, readOnly, buffers, new RangeLock());
    }

    /**
     * @param ranges the volume's write ranges, shared by every LUN that serves the volume (so
     *     COMPARE AND WRITE is atomic against writes through any of them)
     */
    public BlockLogicalUnit(String name, BlockDevice device, LunIdentity identity, boolean readOnly, BufferSource buffers,
                            RangeLock ranges) {
        this(name, device, identity, readOnly, buffers, ranges, ReservationStore.NONE);
    }

    /**
     * @param store where persistent reservations with APTPL=1 are kept, and restored from now
     *     ({@link ReservationStore#NONE}: APTPL is refused)
     */
    public BlockLogicalUnit(String name, BlockDevice device, LunIdentity identity, boolean readOnly, BufferSource buffers,
                            RangeLock ranges, ReservationStore store) {
        this.reservations = new Reservations(store, identity.naa(), name);
        this.name = name;
        this.device = device;
        this.identity = identity;
        this.readOnly = readOnly || device.isReadOnly();
        this.io = new BlockCommands(device, modes, buffers, this::writeProtected, ranges);
        this.provisioning = new ProvisioningCommands(io);
        this.buffers = buffers;
        this.spaceWatch = new SpaceWatch(device, System::nanoTime);
        this.atomics = new AtomicWrites(io);
        this.sanitize = new SanitizeCommands(io, name);
    }

    /**
     * Free space of the volume's file system below which its LUNs raise THIN PROVISIONING SOFT
     * THRESHOLD REACHED (0: never).
     */
    public void warnBelow(long bytes) {
        spaceWatch.warnBelow(bytes);
    }

    private void afterWrite(CommandInfo info) {
        if (info.access() == Reservations.Access.WRITE) {
            spaceCheck();
        }
    }

    private void spaceCheck() {
        if (spaceWatch.crossed()) {
            LOG.warn("{}: free space of its file system is below the warning level", name);
            attentions.establishAll(Asc.THIN_PROVISIONING_SOFT_THRESHOLD, null);
        }
    }

    // what a copy manager (this unit's or another's, for the same I_T nexus) needs of a unit

    int blockSize() {
        return device.logicalBlockSize();
    }

    BufferSource buffers() {
        return buffers;
    }

    boolean contains(long lba, long count) {
        return lba >= 0 && count >= 0 && lba <= blocks() && count <= blocks() - lba;
    }

    void checkAccess(Nexus nexus, Reservations.Access access) throws ScsiException {
        reservations.check(nexus, access);
    }

    void checkWritable() throws ScsiException {
        io.checkWritable();
    }

    /** Refuses a copy through this unit while a sanitize runs on it or after one failed. */
    void checkNotSanitizing(CommandInfo asIf) throws ScsiException {
        sanitize.check(asIf);
    }

    /** The volume's write ranges, shared by every unit that serves it. */
    RangeLock ranges() {
        return io.ranges();
    }

    boolean writeCacheEnabled() {
        return modes.writeCacheEnabled();
    }

    io.clonetarget.storage.lock.RangeLock.Range hold(long lba, long count, RangeLock.Mode mode)
            throws java.io.InterruptedIOException {
        return io.hold(lba, count, mode);
    }

    public BlockDevice device() {
        return device;
    }

    private boolean writeProtected() {
        return readOnly || modes.softwareWriteProtect();
    }

    private long blocks() {
        return device.size() / device.logicalBlockSize();
    }

    @Override
    public long capacity() {
        return device.size();
    }

    @Override
    public LunIdentity identity() {
        return identity;
    }

    @Override
    public ScsiResult execute(ScsiTask task) {
        Nexus nexus = task.nexus();
        ByteBuffer cdb = task.cdb();
        attentions.seen(nexus);
        try {
            CommandInfo info = CommandTable.lookup(cdb);
            if (info == null || info.reportsUnitAttention()) {
                Asc pending = attentions.take(nexus);
                if (pending != null) {
                    throw ScsiException.check(pending);
                }
            }
            if (info == null) {
                if (CommandTable.knowsOpcode(Cdb.opcode(cdb))) {
                    throw ScsiException.invalidCdbField(1, 4);
                }
                throw ScsiException.invalidOpcode();
            }
            if ((Cdb.control(cdb, info.cdbLength()) & 0x04) != 0) {
                throw ScsiException.invalidCdbField(info.cdbLength() - 1, 2);
            }
            sanitize.check(info);
            reservations.check(nexus, info.access());
            ScsiResult result = dispatch(task, info);
            afterWrite(info);
            return result;
        } catch (ScsiException e) {
            return failed(e.status(), e.sense());
        } catch (ReadOnlyException e) {
            return failed(ScsiStatus.CHECK_CONDITION, SenseData.of(Asc.WRITE_PROTECTED));
        } catch (NoSpaceException e) {
            LOG.warn("{}: out of space: {}", name, e.getMessage());
            spaceCheck();
            return failed(ScsiStatus.CHECK_CONDITION, SenseData.of(Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT));
        } catch (MediumErrorException e) {
            LOG.warn("{}: medium error: {}", name, e.getMessage());
            return failed(ScsiStatus.CHECK_CONDITION,
                    SenseData.of(e.isWrite() ? Asc.WRITE_ERROR : Asc.UNRECOVERED_READ_ERROR));
        } catch (IOException | RuntimeException e) {
            LOG.error("{}: command {} failed", name, String.format("%02xh", Cdb.opcode(cdb)), e);
            return failed(ScsiStatus.CHECK_CONDITION, SenseData.of(Asc.INTERNAL_TARGET_FAILURE));
        }
    }

    @Override
    public ScsiResult tryExecute(ScsiTask task) {
        ByteBuffer cdb = task.cdb();
        Nexus nexus = task.nexus();
        if (!io.nonBlockingCandidate(cdb) || sanitize.blocksMedium()) {
            return null;
        }
        attentions.seen(nexus);
        if (attentions.peek(nexus) != null) {
            return null;
        }
        CommandInfo info = CommandTable.lookup(cdb);
        if (info == null || (Cdb.control(cdb, info.cdbLength()) & 0x04) != 0) {
            return null;
        }
        try {
            reservations.check(nexus, info.access());
            int op = info.opcode();
            boolean read = op == 0x08 || op == 0x28 || op == 0xa8 || op == 0x88;
            ScsiResult r = read ? io.read(task, true) : io.write(task, true);
            if (!read) {
                spaceCheck();
            }
            return r;
        } catch (BlockCommands.WouldBlock e) {
            return null;
        } catch (ScsiException e) {
            return failed(e.status(), e.sense());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private ScsiResult failed(ScsiStatus status, SenseData sense) {
        return ScsiResult.failed(status, sense == null ? null : sense.encode(modes.descriptorSense()));
    }

    private ScsiResult dispatch(ScsiTask task, CommandInfo info) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        return switch (info.opcode()) {
            case 0x00 -> ScsiResult.good();
            case 0x03 -> requestSense(task);
            case 0x08, 0x28, 0xa8, 0x88 -> io.read(task);
            case 0x0a, 0x2a, 0xaa, 0x8a -> io.write(task);
            case 0x12 -> inquiry(task);
            case 0x15, 0x55 -> modeSelect(task, info.opcode() == 0x55);
            case 0x16 -> {
                if ((Cdb.u8(cdb, 1) & 0x1f) != 0) {
                    throw ScsiException.invalidCdbField(1, 4);
                }
                reservations.reserve6(task.nexus());
                yield ScsiResult.good();
            }
            case 0x17 -> {
                reservations.release6(task.nexus());
                yield ScsiResult.good();
            }
            case 0x1a, 0x5a -> ScsiResult.good(modes.sense(task, info.opcode() == 0x5a, blocks(),
                    device.logicalBlockSize(), writeProtected()));
            case 0x1b -> startStop(task);
            case 0x1e -> ScsiResult.good();
            case 0x25 -> readCapacity10(task);
            case 0x2e, 0xae, 0x8e -> io.writeAndVerify(task);
            case 0x2f, 0xaf, 0x8f -> io.verify(task);
            case 0x34, 0x90 -> io.prefetch(task);
            case 0x35, 0x91 -> io.synchronizeCache(task);
            case 0x37, 0xb7 -> readDefectData(task, info.opcode() == 0xb7);
            case 0x41, 0x93 -> provisioning.writeSame(task);
            case 0x42 -> provisioning.unmap(task);
            case 0x48 -> sanitize.sanitize(task);
            case 0x4d -> LogPages.logSense(task, device);
            case 0x5e -> ScsiResult.good(reservations.in(task));
            case 0x5f -> {
                reservations.out(task, attentions);
                yield ScsiResult.good();
            }
            case 0x83 -> switch (info.serviceAction()) {
                case 0x10 -> odx.populateToken(task);
                case 0x11 -> odx.writeUsingToken(task);
                default -> copies.extendedCopy(task);
            };
            case 0x84 -> info.serviceAction() == 0x07 ? odx.receiveRodTokenInformation(task)
                    : copies.receiveCopyResults(task);
            case 0x89 -> io.compareAndWrite(task);
            case 0x8b -> io.orWrite(task);
            case 0x9c -> atomics.writeAtomic(task);
            case 0x9e -> info.serviceAction() == 0x10 ? readCapacity16(task) : provisioning.getLbaStatus(task);
            case 0xa3 -> info.serviceAction() == 0x0a ? PortGroups.report(task)
                    : ScsiResult.good(SupportedOperations.report(task, c -> c.opcode() != 0x9c || atomics.offered()));
            case 0xa0 -> throw new IllegalStateException("REPORT LUNS belongs to the target");
            default -> throw ScsiException.invalidOpcode();
        };
    }

    @Override
    public long dataOutLength(ByteBuffer cdb) {
        return io.dataOutLength(cdb);
    }

    private ScsiResult requestSense(ScsiTask task) {
        ByteBuffer cdb = task.cdb();
        boolean descriptor = Cdb.bit(cdb, 1, 0);
        int allocation = Cdb.u8(cdb, 4);
        Asc pending = attentions.take(task.nexus());
        SenseData progress = pending == null ? sanitize.pendingSense() : null;
        SenseData sense = progress != null ? progress : SenseData.of(pending != null ? pending : Asc.NO_ADDITIONAL_SENSE);
        byte[] data = sense.encode(descriptor);
        return ScsiResult.good(ModePages.copyOut(task, ByteBuffer.wrap(data), allocation));
    }

    private ScsiResult inquiry(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        boolean evpd = Cdb.bit(cdb, 1, 0);
        int page = Cdb.u8(cdb, 2);
        int allocation = Cdb.u16(cdb, 3);
        if (Cdb.bit(cdb, 1, 1)) {
            throw ScsiException.invalidCdbField(1, 1);
        }
        ByteBuffer data;
        if (!evpd) {
            if (page != 0) {
                throw ScsiException.invalidCdbField(2, 7);
            }
            data = Inquiry.standard(identity, true);
        } else {
            data = Inquiry.vpd(page, identity, task.nexus(), io.limits(),
                    new Inquiry.ProvisioningInfo(device.discardZeroesData(), spaceWatch.exponent()));
            if (data == null) {
                throw ScsiException.invalidCdbField(2, 7);
            }
        }
        return ScsiResult.good(ModePages.copyOut(task, data.position(0), allocation));
    }

    private ScsiResult modeSelect(ScsiTask task, boolean ten) throws ScsiException {
        if (modes.select(task, ten, blocks(), device.logicalBlockSize())) {
            attentions.establishAll(Asc.MODE_PARAMETERS_CHANGED, task.nexus());
        }
        return ScsiResult.good();
    }

    private ScsiResult startStop(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        int powerCondition = Cdb.u8(cdb, 4) >>> 4;
        boolean loadEject = Cdb.bit(cdb, 4, 1);
        if (loadEject) {
            throw ScsiException.invalidCdbField(4, 1);
        }
        if (powerCondition != 0 && powerCondition != 0x0b) {
            throw ScsiException.invalidCdbField(4, 7);
        }
        boolean start = Cdb.bit(cdb, 4, 0);
        boolean noFlush = Cdb.bit(cdb, 4, 2);
        if (!start && !noFlush && !writeProtected()) {
            device.flush();
        }
        return ScsiResult.good();
    }

    private ScsiResult readCapacity10(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        boolean pmi = Cdb.bit(cdb, 8, 0);
        if (!pmi && Cdb.u32(cdb, 2) != 0) {
            throw ScsiException.invalidCdbField(2, -1);
        }
        ByteBuffer b = ByteBuffer.allocate(8);
        long last = blocks() - 1;
        b.putInt(0, (int) Math.min(last, 0xffff_ffffL));
        b.putInt(4, device.logicalBlockSize());
        return ScsiResult.good(ModePages.copyOut(task, b, 8));
    }

    private ScsiResult readCapacity16(ScsiTask task) {
        int allocation = (int) Math.min(Integer.MAX_VALUE, Cdb.u32(task.cdb(), 10));
        ByteBuffer b = ByteBuffer.allocate(32);
        b.putLong(0, blocks() - 1);
        b.putInt(8, device.logicalBlockSize());
        // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT stays 0: provisioning (UNMAP, GET LBA STATUS)
        // is reported exactly per logical block, and the file under a LUN takes a one-block write
        // as it is (it never tears a neighbouring block). The 4 KiB unit in which the file system
        // allocates, and below which a write costs a read, is reported where the standard puts a
        // performance hint: OPTIMAL TRANSFER LENGTH GRANULARITY and OPTIMAL UNMAP GRANULARITY (VPD B0).
        b.put(14, (byte) (0x80 | (device.discardZeroesData() ? 0x40 : 0)));
        return ScsiResult.good(ModePages.copyOut(task, b, allocation));
    }

    private ScsiResult readDefectData(ScsiTask task, boolean twelve) {
        ByteBuffer cdb = task.cdb();
        int format = twelve ? Cdb.u8(cdb, 1) & 0x1f : Cdb.u8(cdb, 2) & 0x1f;
        int allocation = twelve ? (int) Math.min(Integer.MAX_VALUE, Cdb.u32(cdb, 6)) : Cdb.u16(cdb, 7);
        ByteBuffer b = ByteBuffer.allocate(twelve ? 8 : 4);
        b.put(1, (byte) format);
        return ScsiResult.good(ModePages.copyOut(task, b, allocation));
    }

    @Override
    public void reset(Nexus requester) {
        reservations.reset(null);
        attentions.establishAll(Asc.BUS_DEVICE_RESET, null);
    }

    @Override
    public void nexusLost(Nexus nexus) {
        reservations.reset(nexus);
        attentions.forget(nexus);
        copies.forget(nexus);
        odx.forget(nexus);
    }

    @Override
    public void notify(Nexus nexus, Asc condition) {
        attentions.establish(nexus, condition);
    }

    @Override
    public boolean reserved() {
        return reservations.held();
    }

    @Override
    public void notifyWhere(Asc condition, java.util.function.Predicate<Nexus> which) {
        attentions.establishWhere(condition, which);
    }

    @Override
    public void close() {
        RodTokens.SERVER.revoke(this);
        sanitize.close();
        try {
            if (!device.isReadOnly()) {
                device.flush();
            }
        } catch (IOException e) {
            LOG.error("{}: final flush failed: {}", name, e.getMessage());
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
