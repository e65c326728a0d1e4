/**
 * The server: turns a {@link io.clonetarget.config.ServerConfig} into open volumes, target
 * nodes, portals and executors, and takes them down in the order that keeps data safe.
 */
package io.clonetarget.server;
