package io.clonetarget.server;

import io.clonetarget.config.VolumeConfig;
import java.io.IOException;

/** Opens clone volumes (see storage-core's clone package). */
final class CloneVolumes {
    private CloneVolumes() {
    }

    static OpenVolume open(VolumeConfig v) throws IOException {
        throw new IOException("volume " + v.name() + ": clone volumes are not available in this build yet");
    }
}
