/**
 * The configuration model: records for the server, the iSCSI defaults, volumes (files and
 * clones) and targets with their LUNs; TOML parsing that binds the parsed tree to the records and
 * reports every problem at once with its field path and line ({@code volume[1].region-size: ...
 * (line 14)}); validation of values and references; checks against the machine
 * ({@link io.clonetarget.config.ConfigCheck}, {@link io.clonetarget.config.SecretFiles}); atomic
 * saving.
 */
package io.clonetarget.config;
