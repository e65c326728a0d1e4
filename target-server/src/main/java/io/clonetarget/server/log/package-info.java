/**
 * Logging support: {@link io.clonetarget.server.log.LogText} escapes and caps values from the
 * wire, {@link io.clonetarget.server.log.LogContext} puts connection, session, task and LUN in
 * the MDC of the thread doing the work.
 */
package io.clonetarget.server.log;
