package io.clonetarget.config;

/** One LUN of a target: its number and the volume behind it. */
public record LunConfig(Integer lun, String volume) {
}
