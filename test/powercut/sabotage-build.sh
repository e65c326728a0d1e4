#!/usr/bin/env bash
# test/powercut/sabotage-build.sh DIR [COMMIT] - a deliberately broken clonetarget for the
# power-cut test: FileBlockDevice acknowledges SYNCHRONIZE CACHE without fdatasync and FUA writes
# as plain buffered writes, so it claims durability early. Built from COMMIT (default HEAD) of this
# checkout into DIR (git archive: the checkout is not touched). Then:
#   test/powercut/run.sh --project DIR --sabotage build --mode plain --cuts 1
# must report losses (exit 0 = caught).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${1:?usage: sabotage-build.sh DIR [COMMIT]}
COMMIT=$(git -C "$ROOT" rev-parse "${2:-HEAD}")
rm -rf "$DIR.src"
mkdir -p "$DIR.src"
git -C "$ROOT" archive "$COMMIT" | tar -x -C "$DIR.src"
python3 - "$DIR.src/storage-core/src/main/java/io/clonetarget/storage/device/FileBlockDevice.java" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
w = "public void write(long offset, ByteBuffer src, boolean fua) throws IOException {"
f = "public void flush() throws IOException {"
if s.count(w) != 1 or s.count(f) != 1:
    sys.exit("sabotage-build: FileBlockDevice.java has no single write(long, ByteBuffer, boolean) / flush(); update this script")
s = s.replace(w, w + "\n        fua = false; // POWERCUT SABOTAGE: a FUA write is a plain buffered write")
s = s.replace(f, f + "\n        if (true) return; // POWERCUT SABOTAGE: SYNCHRONIZE CACHE does nothing")
open(p, "w").write(s)
PY
(cd "$DIR.src" && bin/mvn -q -B -DskipTests package)
rm -rf "$DIR"
mkdir -p "$DIR/target-server/target"
cp -a "$DIR.src/bin" "$DIR/"
cp "$DIR.src/target-server/target/clonetarget.jar" "$DIR/target-server/target/"
echo "$COMMIT+sabotage(FileBlockDevice: flush is a no-op, FUA writes are plain)" > "$DIR/.powercut-commit"
echo "sabotaged build of $COMMIT in $DIR"
