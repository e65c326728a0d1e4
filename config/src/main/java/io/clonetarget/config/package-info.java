/**
 * The configuration model: records for the server, the iSCSI defaults, volumes (files and
 * clones) and targets with their LUN maps (a default map and per-initiator maps); TOML parsing
 * that migrates older schemas ({@code version}) and binds the parsed tree to the records,
 * reporting every problem at once with its field path and line ({@code volume[1].region-size: ...
 * (line 14)}); validation of values and references; networks for access control
 * ({@link io.clonetarget.config.Network}); checks against the machine
 * ({@link io.clonetarget.config.ConfigCheck}, {@link io.clonetarget.config.SecretFiles}); verified,
 * atomic saving. docs/configuration.md is the reference of the file.
 */
package io.clonetarget.config;
