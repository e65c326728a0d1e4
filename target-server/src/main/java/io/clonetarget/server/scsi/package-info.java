/**
 * SCSI block commands (SPC-4, SBC-4) over a {@link io.clonetarget.storage.device.BlockDevice}:
 * command decoding, execution, sense data, mode pages, VPD pages, unit attentions and
 * reservations. Knows nothing of iSCSI: a transport hands in a {@link ScsiTask} and gets a
 * {@link ScsiResult} back.
 */
package io.clonetarget.server.scsi;
