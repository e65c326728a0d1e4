/** Defences shared by the iSCSI login and the admin API: slowing down whoever guesses credentials. */
package io.clonetarget.server.auth;
