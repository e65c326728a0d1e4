/** Snapshots of volumes: incremental diff streams in Ceph's rbd diff v1 format and their checksums. */
package io.clonetarget.storage.snapshot;
