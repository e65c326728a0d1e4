#!/usr/bin/env python3
"""Copy one LUN of a target onto another with the target's copy offload, as a host would.

  iscsi_copy.py PORTAL IQN SRC_LUN DST_LUN MODE [--bytes N] [--chunk N]

MODE is xcopy (EXTENDED COPY(LID1), block-to-block segments of at most 65535 blocks, several
per command) or odx (POPULATE TOKEN over CHUNK bytes, RECEIVE ROD TOKEN INFORMATION, then
WRITE USING TOKEN until the transfer count says the chunk is done, as Windows does). A minimal
iSCSI initiator: one session, login straight to the operational stage without authentication,
every parameter list sent as immediate data. Prints one JSON line: mode, bytes, seconds,
commands. Only for benchmarks against a loopback target.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time


class Session:
    def __init__(self, portal, iqn):
        host, port = portal.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        keys = {
            "InitiatorName": "iqn.2026-12.io.clonetarget:bench-copy",
            "TargetName": iqn, "SessionType": "Normal",
            "HeaderDigest": "None", "DataDigest": "None",
            "ImmediateData": "Yes", "InitialR2T": "No",
            "FirstBurstLength": "262144", "MaxBurstLength": "16776192",
            "MaxRecvDataSegmentLength": "262144", "ErrorRecoveryLevel": "0",
        }
        data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in keys.items())
        bhs = bytearray(48)
        bhs[0] = 0x43
        bhs[1] = 0x80 | (1 << 2) | 3  # T, CSG operational, NSG full feature
        bhs[5:8] = len(data).to_bytes(3, "big")
        bhs[8:14] = bytes([0x80, 0x00, 0x12, 0x34, 0x56, 0x78])
        struct.pack_into(">I", bhs, 16, self.itt)
        struct.pack_into(">I", bhs, 24, self.cmdsn)
        self._send(bytes(bhs), data)
        rsp, _ = self._recv()
        if rsp[0] & 0x3f != 0x23 or rsp[36] != 0:
            raise SystemExit(f"login failed: status {rsp[36]:02x}/{rsp[37]:02x}")
        self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
        self.itt += 1

    def _send(self, bhs, data=b""):
        pad = (-len(data)) % 4
        self.sock.sendall(bhs + data + b"\0" * pad)

    def _exact(self, n):
        b = bytearray()
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk:
                raise SystemExit("connection closed by the target")
            b += chunk
        return bytes(b)

    def _recv(self):
        bhs = self._exact(48)
        ahs = bhs[4] * 4
        dsl = int.from_bytes(bhs[5:8], "big")
        self._exact(ahs)
        data = self._exact(dsl + (-dsl) % 4)[:dsl]
        return bhs, data

    def command(self, lun, cdb, data_out=b"", data_in=0):
        """Runs one command; returns (status, data-in, sense)."""
        bhs = bytearray(48)
        bhs[0] = 0x01
        bhs[1] = 0x80 | (0x40 if data_in else 0) | (0x20 if data_out else 0) | 0x01
        bhs[5:8] = len(data_out).to_bytes(3, "big")
        bhs[9] = lun
        itt = self.itt
        self.itt += 1
        struct.pack_into(">IIII", bhs, 16, itt, max(len(data_out), data_in), self.cmdsn, self.expstatsn)
        self.cmdsn += 1
        bhs[32:32 + len(cdb)] = cdb
        self._send(bytes(bhs), data_out)
        got = bytearray()
        while True:
            rsp, data = self._recv()
            op = rsp[0] & 0x3f
            if op == 0x25:  # Data-In
                offset = struct.unpack_from(">I", rsp, 40)[0]
                got[offset:offset + len(data)] = data
                if rsp[1] & 0x01:
                    self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
                    return rsp[3], bytes(got), b""
            elif op == 0x21:  # SCSI Response
                self.expstatsn = struct.unpack_from(">I", rsp, 24)[0] + 1
                sense = data[2:] if len(data) >= 2 else b""
                return rsp[3], bytes(got), sense
            elif op == 0x20:  # NOP-In from the target: answer if it wants one
                ttt = struct.unpack_from(">I", rsp, 20)[0]
                if ttt != 0xffffffff:
                    nop = bytearray(48)
                    nop[0] = 0x40
                    nop[1] = 0x80
                    struct.pack_into(">IIIII", nop, 16, 0xffffffff, ttt, self.cmdsn, self.expstatsn, 0)
                    self._send(bytes(nop))
            # async messages and the rest: ignore

    def ok(self, lun, cdb, data_out=b"", data_in=0, what="command"):
        for _ in range(4):
            status, data, sense = self.command(lun, cdb, data_out, data_in)
            if status == 0:
                return data
            if status == 2 and len(sense) > 2 and sense[2] & 0x0f == 6:
                continue  # a unit attention: send it again
            key = sense[2] & 0x0f if len(sense) > 13 else -1
            asc = f"{sense[12]:02x}/{sense[13]:02x}" if len(sense) > 13 else "?"
            raise SystemExit(f"{what} failed: status {status:02x}, sense key {key:x}, asc {asc}")
        raise SystemExit(f"{what}: unit attentions do not stop")


def naa(session, lun):
    page = session.ok(lun, bytes([0x12, 0x01, 0x83, 0x01, 0x00, 0x00]), data_in=256, what="INQUIRY 83h")
    at = 4
    while at + 4 <= len(page):
        length = page[at + 3]
        if page[at + 1] & 0x3f == 0x03 and length == 16:
            return page[at + 4:at + 20]
        at += 4 + length
    raise SystemExit(f"LUN {lun} has no NAA designator")


def capacity(session, lun):
    cdb = bytes([0x9e, 0x10]) + bytes(8) + struct.pack(">I", 32) + bytes(2)
    data = session.ok(lun, cdb, data_in=32, what="READ CAPACITY(16)")
    last, block = struct.unpack_from(">QI", data, 0)
    return (last + 1) * block, block


def xcopy(session, src, dst, total, chunk, block):
    ids = [naa(session, src), naa(session, dst)]
    commands = 0
    done = 0
    while done < total:
        this = min(chunk, total - done)
        segments = []
        at = 0
        while at < this:
            n = min(65535 * block, this - at)
            blocks = n // block
            segments.append(struct.pack(">BBHHHHHQQ", 0x02, 0, 24, 0, 1, 0, blocks,
                                        (done + at) // block, (done + at) // block))
            at += n
        targets = b""
        for d in ids:
            t = bytearray(32)
            t[0] = 0xe4
            t[4], t[5], t[7] = 0x01, 0x03, 16
            t[8:24] = d
            t[29:32] = block.to_bytes(3, "big")
            targets += bytes(t)
        seg = b"".join(segments)
        header = struct.pack(">BBHIII", 0, 3 << 3, len(targets), 0, len(seg), 0)
        plist = header + targets + seg
        cdb = bytes([0x83, 0x00]) + bytes(8) + struct.pack(">I", len(plist)) + bytes(2)
        session.ok(dst, cdb, plist, what="EXTENDED COPY")
        commands += 1
        done += this
    return commands


def odx(session, src, dst, total, chunk, block):
    commands = 0
    done = 0
    list_id = 1
    while done < total:
        this = min(chunk, total - done)
        blocks = this // block
        ranges = struct.pack(">QI4x", done // block, blocks)
        plist = struct.pack(">HBBIIHH", 14 + len(ranges), 0, 0, 0, 0, 0, len(ranges)) + ranges
        cdb = bytes([0x83, 0x10, 0, 0, 0, 0]) + struct.pack(">II", list_id, len(plist)) + bytes(2)
        session.ok(src, cdb, plist, what="POPULATE TOKEN")
        cdb = bytes([0x84, 0x07]) + struct.pack(">I", list_id) + bytes(4) + struct.pack(">I", 1024) + bytes(2)
        info = session.ok(src, cdb, data_in=1024, what="RECEIVE ROD TOKEN INFORMATION")
        sense_field = info[13]
        token = info[32 + sense_field + 6:32 + sense_field + 6 + 512]
        commands += 2
        written = 0
        while written < blocks:
            list_id += 1
            dst_range = struct.pack(">QI4x", done // block + written, blocks - written)
            wlist = bytearray(536) + dst_range
            struct.pack_into(">H", wlist, 0, len(wlist) - 2)
            struct.pack_into(">Q", wlist, 8, written)
            wlist[16:528] = token
            struct.pack_into(">H", wlist, 534, len(dst_range))
            cdb = bytes([0x83, 0x11, 0, 0, 0, 0]) + struct.pack(">II", list_id, len(wlist)) + bytes(2)
            session.ok(dst, cdb, bytes(wlist), what="WRITE USING TOKEN")
            cdb = bytes([0x84, 0x07]) + struct.pack(">I", list_id) + bytes(4) + struct.pack(">I", 1024) + bytes(2)
            info = session.ok(dst, cdb, data_in=1024, what="RECEIVE ROD TOKEN INFORMATION")
            count = struct.unpack_from(">Q", info, 16)[0]
            if count == 0:
                raise SystemExit("WRITE USING TOKEN wrote nothing")
            written += count
            commands += 2
        list_id += 1
        done += this
    return commands


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("portal")
    ap.add_argument("iqn")
    ap.add_argument("src", type=int)
    ap.add_argument("dst", type=int)
    ap.add_argument("mode", choices=["xcopy", "odx"])
    ap.add_argument("--bytes", type=int, default=0, help="bytes to copy (default: the whole source)")
    ap.add_argument("--chunk", type=int, default=256 << 20, help="bytes per command (default 256 MiB)")
    a = ap.parse_args()
    s = Session(a.portal, a.iqn)
    size, block = capacity(s, a.src)
    s.ok(a.dst, bytes(6), what="TEST UNIT READY")
    total = a.bytes or size
    start = time.monotonic()
    commands = (xcopy if a.mode == "xcopy" else odx)(s, a.src, a.dst, total, a.chunk, block)
    s.ok(a.dst, bytes([0x35]) + bytes(9), what="SYNCHRONIZE CACHE")
    seconds = time.monotonic() - start
    print(json.dumps({"mode": a.mode, "bytes": total, "seconds": round(seconds, 3), "commands": commands}))


if __name__ == "__main__":
    main()
