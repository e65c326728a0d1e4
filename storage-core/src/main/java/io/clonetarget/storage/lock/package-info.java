/**
 * Locks of the storage core: {@link io.clonetarget.storage.lock.RegionClaims}, the exclusive
 * per-unit claims behind a clone's regions (and, next, a snapshot's chunk states), and
 * {@link io.clonetarget.storage.lock.RangeLock}, the byte-range lock that makes COMPARE AND
 * WRITE atomic against every other write.
 */
package io.clonetarget.storage.lock;
