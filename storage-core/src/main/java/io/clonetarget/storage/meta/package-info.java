/**
 * Crash-safe metadata blocks: 4 KiB blocks that carry their kind, location, generation and a
 * CRC32C, validated on every read ({@link io.clonetarget.storage.meta.MetaBlocks}); the
 * superblock in two alternating slots ({@link io.clonetarget.storage.meta.Superblock}). The
 * layout is documented byte by byte in {@code docs/formats/clone-metadata.md}.
 */
package io.clonetarget.storage.meta;
