/**
 * The iSCSI login phase (RFC 7143 sections 6 and 13): the per-connection login state machine,
 * operational key negotiation as a pure, table-driven function, and CHAP authentication.
 */
package io.clonetarget.server.login;
