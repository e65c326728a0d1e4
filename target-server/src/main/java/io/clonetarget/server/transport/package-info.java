/** Portals (TCP listeners) and the pooled direct buffers that data travels in. */
package io.clonetarget.server.transport;
