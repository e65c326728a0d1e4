package io.clonetarget.server;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.clone.CloneFiles;
import io.clonetarget.storage.clone.CloneStatus;
import io.clonetarget.storage.clone.CloneVolume;
import io.clonetarget.storage.clone.HydrationSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** Opens clone volumes (storage-core's clone package) as the configuration describes them. */
final class CloneVolumes {
    private CloneVolumes() {
    }

    /** The storage settings of a clone volume entry. */
    static CloneVolume.Settings settings(VolumeConfig v) {
        HydrationConfig h = v.hydration();
        HydrationSettings hydration = new HydrationSettings(h.inFlight(), h.batchSize(), h.rate().bytes(),
                h.startPaused(), h.retryMin().duration(), h.retryMax().duration());
        return new CloneVolume.Settings(v.regionSize().bytes(), v.blockSize(), h.hydrateOnRead(),
                v.discardPassdown(), hydration);
    }

    static OpenVolume open(VolumeConfig v) throws IOException {
        return open(v, CloneFiles::openSource);
    }

    /** Opens a clone whose source {@code sources} opens (a snapshot of another volume, for one). */
    static OpenVolume open(VolumeConfig v, CloneFiles.SourceOpener sources) throws IOException {
        CloneVolume clone;
        try {
            clone = CloneFiles.open(v.name(), v.source(), Path.of(v.path()), Path.of(v.metadata()), settings(v),
                    v.overwriteDestination(), sources);
        } catch (IOException e) {
            throw new IOException("volume " + v.name() + ": " + e.getMessage(), e);
        }
        CloneStatus s = clone.status();
        String description = String.format(Locale.ROOT, "clone of %s into %s, %.1f%% hydrated (%d of %d regions of %s)",
                v.source(), v.path(), 100 * s.fraction(), s.hydratedRegions(), s.regions(),
                ByteSize.ofBytes(s.regionSize()));
        // the identity follows the clone (its metadata UUID), not the files: a repaired
        // metadata file keeps it, a new clone over the same path gets a new one
        return new OpenVolume(v.name(), clone, LunIdentity.fromSeed("clone:" + clone.uuid(), "clone"), clone,
                description);
    }
}
