#!/bin/sh
# run_fuzz.sh TARGET SECONDS SEED_DIR MAKES_SEED REGRESSION_DIR ARTIFACT_DIR
# First replays every input in REGRESSION_DIR (crashes found earlier), then
# fuzzes TARGET for SECONDS from the committed seeds in SEED_DIR (plus one it
# writes itself when MAKES_SEED is 1), in a scratch corpus. A crash input is
# kept in ARTIFACT_DIR: copy it into REGRESSION_DIR with the fix.
set -eu
target=$1 seconds=$2 seeds=$3 makes_seed=$4 regressions=$5 artifacts=$6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/seeds" "$artifacts"
if [ -d "$seeds" ]; then cp "$seeds"/* "$work/seeds/" 2>/dev/null || true; fi
if [ "$makes_seed" = 1 ]; then "$target" --make-seed "$work/seeds"; fi
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
    "$target" "$regressions"/*
fi
cd "$work"
if ! "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" corpus seeds; then
    echo "run_fuzz: $target found a failing input, kept in $artifacts; add it to $regressions with the fix" >&2
    exit 1
fi
