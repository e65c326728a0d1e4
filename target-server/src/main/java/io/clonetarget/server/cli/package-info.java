/**
 * The {@code clonetarget} command line (picocli): one class per subcommand, a factory that
 * takes the output writers so tests run commands in-process, stable exit codes.
 */
package io.clonetarget.server.cli;
