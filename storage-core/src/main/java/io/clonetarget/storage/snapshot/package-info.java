/**
 * Snapshots of volumes: chunk copy-on-write into a difference storage, persistent through the
 * metadata's transactions ({@link io.clonetarget.storage.meta.SnapshotStore}), images served as
 * devices, change lists between snapshots, and Ceph-compatible incremental streams.
 */
package io.clonetarget.storage.snapshot;
