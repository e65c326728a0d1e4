package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.MetadataInspection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What opening a clone's files would do, decided from the files alone (nothing is changed):
 * the one place that says when metadata is opened, when a new clone is created, and when
 * existing files are refused because they may hold data. {@link CloneFiles#open} follows it;
 * {@code config check} reports it.
 *
 * @param action what opening does
 * @param inspection the metadata as read (null when missing or empty)
 * @param metadataExists whether a metadata file exists (empty or not)
 * @param destinationExists whether the destination exists
 * @param problem why {@link Action#REFUSE}, in words; null otherwise
 */
public record ClonePlan(Action action, MetadataInspection inspection, boolean metadataExists,
                        boolean destinationExists, String problem) {

    /** What opening does with the files. */
    public enum Action {
        /** Valid metadata and its destination: open them. */
        OPEN,
        /** Valid metadata with nothing hydrated and no destination (an interrupted creation): make the destination. */
        CREATE_DESTINATION,
        /** Neither file: create metadata, then the destination. */
        CREATE,
        /** Files without valid metadata, and the explicit choice to start a new clone over them. */
        OVERWRITE,
        /** Refused: {@link #problem()} says why and how to go on. */
        REFUSE
    }

    /** Decides from the files; reads the metadata with a shared lock. */
    public static ClonePlan of(Path dest, Path metadata, boolean overwriteDestination) throws IOException {
        boolean metaExists = Files.exists(metadata);
        MetadataInspection inspection = null;
        if (metaExists && Files.size(metadata) > 0) {
            try (FileBlockDevice m = FileBlockDevice.open(metadata, true, 512)) {
                inspection = MetadataInspection.of(m);
            }
        }
        boolean destExists = Files.exists(dest);
        if (inspection != null && inspection.opens()) {
            if (destExists) {
                return new ClonePlan(Action.OPEN, inspection, true, true, null);
            }
            if (inspection.hydratedRegions() == 0) {
                return new ClonePlan(Action.CREATE_DESTINATION, inspection, true, false, null);
            }
            return new ClonePlan(Action.REFUSE, inspection, true, false, "metadata " + metadata + " records "
                    + inspection.hydratedRegions() + " hydrated regions but the destination " + dest + " does not "
                    + "exist; refusing to serve hydrated regions from nothing (remove the metadata to start over)");
        }
        if (!destExists && !metaExists) {
            return new ClonePlan(Action.CREATE, null, false, false, null);
        }
        if (overwriteDestination) {
            return new ClonePlan(Action.OVERWRITE, inspection, metaExists, destExists, null);
        }
        String why = !metaExists ? metadata + " does not exist" : inspection == null ? metadata + " is empty"
                : metadata + " is not valid clone metadata (" + (inspection.findings().isEmpty() ? "no clone"
                : inspection.findings().getFirst().toString()) + ")";
        return new ClonePlan(Action.REFUSE, inspection, metaExists, destExists, (destExists ? "the destination "
                + dest + " exists but " : "") + why + "; " + (destExists ? "it may hold data, so it is not formatted "
                + "over. " : "nothing is formatted over it. ") + "To start a new clone over it (the destination's "
                + "contents are then ignored and overwritten by hydration), set overwrite-destination = true for this "
                + "volume (--clone ...,overwrite-destination); to rebuild damaged metadata, run clonetarget metadata "
                + "repair; or remove the files");
    }

    /** Whether the metadata is valid and every region is hydrated (the source is then not needed). */
    public boolean complete() {
        return inspection != null && inspection.opens()
                && inspection.hydratedRegions() == inspection.clone().regionCount();
    }

    /** Regions the valid metadata records as hydrated (0 without valid metadata). */
    public long hydratedRegions() {
        return inspection != null && inspection.opens() ? inspection.hydratedRegions() : 0;
    }
}
