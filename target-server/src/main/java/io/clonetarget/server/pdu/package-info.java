/**
 * The iSCSI wire format (RFC 7143 section 11): opcodes, the 48-byte basic header segment read
 * and written in place ({@link io.clonetarget.server.pdu.Bhs}), CRC32C digests, text key=value
 * segments, and the blocking reader that turns a byte stream into PDUs without copying data
 * segments that have a destination.
 */
package io.clonetarget.server.pdu;
