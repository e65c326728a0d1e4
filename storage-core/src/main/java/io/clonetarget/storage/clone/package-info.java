/**
 * Clone volumes in the manner of dm-clone: a read-only source hydrated, region by region, into a
 * destination file, usable at once. The region map lives in memory with two dirty maps swapped
 * at each commit ({@link io.clonetarget.storage.clone.CloneMetadata}); commits are transactional
 * ({@link io.clonetarget.storage.meta.PersistentBitset}); the volume is a
 * {@link io.clonetarget.storage.device.BlockDevice} ({@link io.clonetarget.storage.clone.CloneVolume});
 * background copying is the {@link io.clonetarget.storage.clone.Hydrator}'s.
 */
package io.clonetarget.storage.clone;
