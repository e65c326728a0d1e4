/**
 * iSCSI target nodes: a name, its logical units by LUN, authentication and access control.
 * A node answers REPORT LUNS and commands to LUNs it does not have; everything else goes to
 * the {@link io.clonetarget.server.scsi.LogicalUnit}.
 */
package io.clonetarget.server.target;
