/**
 * The configuration model: records for the server, the iSCSI defaults, volumes (files and
 * clones) and targets with their LUNs; TOML parsing with errors that name the field
 * ({@code volume[1].region-size: ...}); validation of values and references; atomic saving.
 */
package io.clonetarget.config;
