/**
 * A PDU fuzzer of our own (issue 7): a small initiator that logs in and sends mutated streams of
 * SCSI Command, Data-Out, NOP-Out, Text, Task Management and Logout PDUs, interleaved with valid
 * traffic, and after every round checks that the target is still whole: a fresh session logs in
 * and reads back what it wrote, every connection the fuzzer dropped is gone, threads, descriptors
 * and memory stay bounded, no byte outside the fuzzer's region changed, and nothing logged a stack
 * trace for wire input.
 *
 * <p>{@link io.clonetarget.server.fuzz.FuzzEngine} is the engine, runnable as a main against any
 * host and port (bench/soak.sh does); {@code PduFuzzIT} runs it against a target in-process. The
 * code here deliberately shares nothing with the server's PDU classes, so a codec bug cannot hide
 * behind the same bug in the test.
 */
package io.clonetarget.server.fuzz;
