# Finds a JDK 25 or newer and sets JAVA_BIN and JAVA_HOME_FOUND. Sourced by bin/clonetarget and bin/mvn.
# Looks at $JAVA_HOME, then `java` on PATH, then /usr/lib/jvm/*, and says what it needs if none fits.

CLONETARGET_MIN_JAVA=25

java_major() { # java_major /path/to/bin/java -> major version on stdout, nothing if it does not run
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

find_jdk() {
  local candidates=() c v seen=""
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  c=$(command -v java 2>/dev/null) && candidates+=("$(readlink -f "$c")")
  for c in /usr/lib/jvm/*/bin/java; do
    [ -x "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    case " $seen " in *" $c "*) continue ;; esac
    seen="$seen $c"
    [ -x "$c" ] || continue
    v=$(java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge "$CLONETARGET_MIN_JAVA" ]; then
      JAVA_BIN=$c
      JAVA_HOME_FOUND=$(cd "$(dirname "$c")/.." && pwd)
      return 0
    fi
  done
  {
    echo "clonetarget needs Java $CLONETARGET_MIN_JAVA or newer, and found none."
    echo "Looked at: \$JAVA_HOME (${JAVA_HOME:-unset}), java on PATH, /usr/lib/jvm/*."
    for c in "${candidates[@]}"; do
      echo "  $c: Java $(java_major "$c" || true)"
    done
    echo "Install one (for example Eclipse Temurin 25 from https://adoptium.net) and set JAVA_HOME to it."
  } >&2
  return 1
}
