#!/bin/sh
# Real repositories for benchmarks/bench_code_recall.py, fetched from the package registries this
# project may reach (npm, Debian): one per mined language besides Python (CPython's standard
# library, already on the machine). Usage: sh benchmarks/fetch_code_repos.sh [DIR]
set -eu
DIR=${1:-benchmarks/.repos}
mkdir -p "$DIR"
cd "$DIR"
for pkg in express@4.22.3 rxjs@7.8.2; do
    name=${pkg%@*}
    [ -d "$name" ] && continue
    tgz=$(npm pack --silent "$pkg")
    mkdir -p "$name" && tar xzf "$tgz" -C "$name" && rm "$tgz"
done
for deb in golang-1.19-src libruby3.1 php-monolog openjdk-17-source; do
    [ -d "$deb" ] && continue
    apt-get download "$deb" >/dev/null 2>&1
    mkdir -p "$deb" && dpkg-deb -x "$deb"_*.deb "$deb" && rm "$deb"_*.deb
done
if [ ! -d jdk-util ]; then
    mkdir -p jdk-util
    unzip -q "$(find openjdk-17-source -name src.zip | head -1)" 'java.base/java/util/*' -d jdk-util
fi
echo "repositories in $DIR"
