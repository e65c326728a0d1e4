/**
 * iSCSI sessions and connections: the reader loop of a connection, the login phase, command
 * sequencing by CmdSN, solicited and unsolicited data, Data-In and status, task management,
 * NOP keepalive and logout. One connection per session (MaxConnections=1, ErrorRecoveryLevel=0).
 */
package io.clonetarget.server.session;
