# Sourced by ./fflama and ci/*.sh: sets JAVA_HOME to a JDK >= 22 or exits with a clear message.
# Order: $JAVA_HOME, then `java` on PATH, then the system's usual JDK folders.

fflama_java_major() {
    # prints the feature version of the JDK at $1, or nothing
    local javac="$1/bin/javac" java="$1/bin/java" v
    [ -x "$java" ] && [ -x "$javac" ] || return 0
    v=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)
    printf '%s' "${v%%.*}"
}

fflama_find_jdk() {
    local candidates=() c major
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    if command -v java >/dev/null 2>&1; then
        c=$(readlink -f "$(command -v java)" 2>/dev/null)
        [ -n "$c" ] && candidates+=("$(dirname "$(dirname "$c")")")
    fi
    for c in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home \
             "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
        [ -d "$c" ] && candidates+=("$c")
    done
    local best="" best_major=0
    for c in "${candidates[@]}"; do
        major=$(fflama_java_major "$c")
        [ -n "$major" ] || continue
        if [ "$major" -ge 22 ] 2>/dev/null && [ "$major" -gt "$best_major" ]; then
            best="$c"
            best_major="$major"
            # an explicit JAVA_HOME that is new enough wins
            [ "$c" = "${JAVA_HOME:-}" ] && break
        fi
    done
    if [ -z "$best" ]; then
        echo "error: fflama needs a JDK 22 or newer (for the Foreign Function & Memory API) and found none." >&2
        echo "       Looked at JAVA_HOME, java on PATH and /usr/lib/jvm, /usr/java, /opt/java, /opt/jdk*." >&2
        echo "       Install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
        return 1
    fi
    export JAVA_HOME="$best"
    export PATH="$JAVA_HOME/bin:$PATH"
}

fflama_find_jdk || exit 1
