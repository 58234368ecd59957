#!/usr/bin/env bash
# Download Debian packages from a suite the system does not track (for
# example trixie-backports) without touching the system's apt sources.
#
# The private sources list reuses the archive URIs of the machine's own
# /etc/apt/sources.list.d/debian.sources (or /etc/apt/sources.list), so no
# mirror host is named here.
#
# A package that is already in CACHE_DIR/archives is not looked up again:
# once cached, this needs no network and no apt-get call at all.
#
# usage: fetch-debs.sh CACHE_DIR SUITE PACKAGE[=VERSION]...
# Prints the paths of the downloaded .deb files, one per line.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: fetch-debs.sh CACHE_DIR SUITE PACKAGE..." >&2; exit 2; }
cache=$1; suite=$2; shift 2
mkdir -p "$cache/lists/partial" "$cache/archives"

mirror_uri() {
    local src=/etc/apt/sources.list.d/debian.sources uri=""
    if [ -r "$src" ]; then
        # First URIs: line whose Suites: are not the security suite.
        uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u!="" && $0 !~ /security/ {print u; exit}' "$src")
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || { echo "fetch-debs: no Debian archive URI found in the system's apt sources" >&2; exit 1; }
    printf '%s\n' "$uri"
}

# cached NAME [VERSION]: the cached .deb of that package, if any.  apt
# writes an epoch's ':' as %3a in file names.
cached() {
    local name=$1 version=${2:-} f
    for f in "$cache/archives/${name}"_*.deb; do
        [ -e "$f" ] || continue
        if [ -n "$version" ] && [ "${f##*/}" != "${name}_${version//:/%3a}_amd64.deb" ] &&
           [ "${f##*/}" != "${name}_${version//:/%3a}_all.deb" ]; then
            continue
        fi
        printf '%s\n' "$f"
        return 0
    done
    return 1
}

missing=()
for pkg in "$@"; do
    name=${pkg%%=*}; version=""
    [ "$name" = "$pkg" ] || version=${pkg#*=}
    cached "$name" "$version" >/dev/null || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
    uri=$(mirror_uri)
    list="$cache/sources.list"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$uri" "$suite" > "$list"
    # The suite's Release is signed by the same archive keys the system trusts.
    # APT::Sandbox::User=root: the cache may sit in a directory the _apt user
    # cannot write (a home directory), and the files are checked by hash anyway.
    apt_opts=(-o "Dir::Etc::SourceList=$list" -o "Dir::Etc::SourceParts=-"
              -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache::Archives=$cache/archives"
              -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=0")
    [ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

    stamp="$cache/lists/.updated-$suite"
    if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
        apt-get "${apt_opts[@]}" -q update >&2
        touch "$stamp"
    fi
    for pkg in "${missing[@]}"; do
        (cd "$cache/archives" && apt-get "${apt_opts[@]}" -q download "$pkg" >&2)
    done
fi

for pkg in "$@"; do
    name=${pkg%%=*}; version=""
    [ "$name" = "$pkg" ] || version=${pkg#*=}
    cached "$name" "$version" || { echo "fetch-debs: $pkg: downloaded, but no ${name}_*.deb in $cache/archives" >&2; exit 1; }
done
