package io.clonetarget.server.login;

/** How a key's result is determined (RFC 7143 sections 6.2 and 13). */
enum KeyKind {
    /** The responder picks the first offered value it supports. */
    LIST,
    /** Boolean, result is the AND of both values. */
    BOOLEAN_AND,
    /** Boolean, result is the OR of both values. */
    BOOLEAN_OR,
    /** Numeric, result is the smaller value. */
    NUMERIC_MIN,
    /** Numeric, result is the larger value. */
    NUMERIC_MAX,
    /** Each side declares its own value (MaxRecvDataSegmentLength). */
    DECLARATIVE,
    /** Declared by the initiator, no reply (InitiatorName, SessionType, ...). */
    INITIATOR_DECLARATION,
    /** Only a target may send it; an initiator sending it is answered with Reject. */
    TARGET_ONLY,
    /** Obsolete or not applicable here; answered with Irrelevant. */
    IRRELEVANT
}
