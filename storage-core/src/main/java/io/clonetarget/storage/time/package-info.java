/** Injected time ({@link io.clonetarget.storage.time.Clock}) and exact rate arithmetic. */
package io.clonetarget.storage.time;
